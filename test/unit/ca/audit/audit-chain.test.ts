import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { canonicalAuditEntry, GENESIS_PREV_HASH, hashEntry, verifyChain } from "../../../../ca/audit/audit-chain.js";
import type { AuditEntry, AuditEntryInput } from "../../../../ca/types.js";

const input = (i: number, detail: Record<string, unknown> = { i }): AuditEntryInput => ({
  at: new Date(Date.UTC(2026, 10, 22, 5, 0, 0, i)),
  action: "certificate.issued",
  actor: "operator:7",
  subject: `certificate:0${i}`,
  outcome: "success",
  detail,
});

function chain(n: number): AuditEntry[] {
  const out: AuditEntry[] = [];
  let prev = GENESIS_PREV_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const fields = { ...input(seq), seq };
    const hash = hashEntry(prev, fields);
    out.push({ ...fields, prevHash: prev, hash });
    prev = hash;
  }
  return out;
}

describe("ca/audit-chain", () => {
  it("canonical form: sorted keys at every depth, ISO dates, no whitespace, undefined dropped", () => {
    const c = canonicalAuditEntry({
      seq: 3,
      ...input(1, { z: 1, a: { d: [2, { y: 1, b: undefined, x: new Date(0) }], c: "二" }, u: undefined }),
    });
    assert.equal(
      c,
      '{"action":"certificate.issued","actor":"operator:7","at":"2026-11-22T05:00:00.001Z",' +
        '"detail":{"a":{"c":"二","d":[2,{"x":"1970-01-01T00:00:00.000Z","y":1}]},"z":1},"outcome":"success","seq":3,"subject":"certificate:01"}',
    );
  });

  it("canonical form does not depend on key insertion order", () => {
    const a = canonicalAuditEntry({ seq: 1, ...input(1, { a: 1, b: { c: 2, d: 3 } }) });
    const b = canonicalAuditEntry({ seq: 1, ...input(1, { b: { d: 3, c: 2 }, a: 1 }) });
    assert.equal(a, b);
  });

  it("hashEntry is SHA-256 over prevHash and the canonical form", () => {
    const fields = { seq: 1, ...input(1) };
    const expected = createHash("sha256").update(GENESIS_PREV_HASH + canonicalAuditEntry(fields)).digest("hex");
    assert.equal(hashEntry(GENESIS_PREV_HASH, fields), expected);
    assert.equal(GENESIS_PREV_HASH, "0".repeat(64));
    assert.throws(() => hashEntry("xyz", fields), RangeError);
  });

  it("verifies an intact chain, page by page", () => {
    const entries = chain(5);
    assert.deepEqual(verifyChain(entries), { ok: true, count: 5, lastSeq: 5, lastHash: entries[4]!.hash });
    const first = verifyChain(entries.slice(0, 2));
    assert.ok(first.ok);
    assert.equal(verifyChain(entries.slice(2), first.lastHash).ok, true);
    assert.deepEqual(verifyChain([]), { ok: true, count: 0, lastSeq: null, lastHash: GENESIS_PREV_HASH });
  });

  it("reports the first bad seq for a changed, removed, reordered or renumbered entry", () => {
    const entries = chain(5);
    const changed = entries.map((e) => (e.seq === 3 ? { ...e, actor: "intruder" } : e));
    assert.deepEqual(verifyChain(changed), { ok: false, seq: 3, reason: "hash" });
    const removed = entries.filter((e) => e.seq !== 2);
    assert.deepEqual(verifyChain(removed), { ok: false, seq: 3, reason: "seq-gap" });
    const swapped = [entries[0]!, entries[2]!, entries[1]!];
    assert.deepEqual(verifyChain(swapped), { ok: false, seq: 3, reason: "seq-gap" });
    const renumbered = entries.map((e) => ({ ...e, seq: e.seq + 10 }));
    assert.deepEqual(verifyChain(renumbered), { ok: false, seq: 11, reason: "hash" });
    assert.deepEqual(verifyChain(entries.slice(1)), { ok: false, seq: 2, reason: "prev-hash" });
    assert.equal(verifyChain(entries.slice(1), entries[0]!.hash).ok, true);
  });
});
