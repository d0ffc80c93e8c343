import assert from "node:assert/strict";
import { hashEntry } from "../../../ca/audit/audit-chain.js";
import { AuditCheckpointer, checkpointSignatureValid, type AuditCheckpoint, type AuditCheckpointStore, type NewAuditCheckpoint } from "../../../ca/audit/audit-checkpoint.js";
import { AuditVerifier, type AuditLogReader } from "../../../ca/audit/audit-verifier.js";
import { FixedClock } from "../../../ca/ports.js";
import type { AuditEntry } from "../../../ca/types.js";
import { MemorySigner } from "../../../hsm/memory-signer.js";
import { MemoryAuditStore, MemoryDatabase } from "../../support/memory-stores.js";

class MemoryCheckpoints implements AuditCheckpointStore {
  rows: AuditCheckpoint[] = [];
  async insert(c: NewAuditCheckpoint): Promise<AuditCheckpoint> {
    const row = { ...c, id: this.rows.length + 1 };
    this.rows.push(row);
    return row;
  }
  async list(afterId: number, limit: number): Promise<AuditCheckpoint[]> {
    return this.rows.filter((c) => c.id > afterId).slice(0, limit);
  }
  async latest(): Promise<AuditCheckpoint | undefined> {
    return this.rows.at(-1);
  }
}

describe("ca/audit-verifier and ca/audit-checkpoint", () => {
  const key = MemorySigner.generate({ type: "ec", curve: "P-256" });
  const stranger = MemorySigner.generate({ type: "ec", curve: "P-256" });
  let db: MemoryDatabase;
  let audit: MemoryAuditStore;
  let rows: AuditEntry[];
  let head: { seq: number; hash: string };
  let checkpoints: MemoryCheckpoints;
  let clock: FixedClock;

  const reader = (): AuditLogReader => ({
    head: async () => head,
    firstSeq: async () => (rows.length === 0 ? null : Math.min(...rows.map((r) => r.seq))),
    range: async (from, limit) => rows.filter((r) => r.seq >= from).sort((a, b) => a.seq - b.seq).slice(0, limit),
  });
  const verifier = (pageSize = 7) => new AuditVerifier({ log: reader(), checkpoints, trustedKeys: [key.publicKey], now: () => clock.now(), pageSize });
  const checkpointer = (signer = key) =>
    new AuditCheckpointer({ signer, keyLabel: "audit-checkpoint", store: checkpoints, audit, head: async () => db.state.head, transactions: db, clock });
  const sync = () => {
    rows = db.state.audit.map((e) => ({ ...e, detail: { ...e.detail } }));
    head = { ...db.state.head };
  };

  beforeEach(async () => {
    db = new MemoryDatabase();
    audit = new MemoryAuditStore(db);
    checkpoints = new MemoryCheckpoints();
    clock = new FixedClock(new Date("2026-11-24T01:00:00Z"));
    for (let i = 1; i <= 30; i++) {
      clock.advance(1000);
      await audit.append({ at: clock.now(), action: "test.step", actor: "system", subject: null, outcome: "success", detail: { i } });
    }
    sync();
  });

  it("verifies an untouched chain across pages", async () => {
    const v = await verifier().verify();
    assert.equal(v.ok, true, JSON.stringify(v.findings));
    assert.equal(v.entries, 30);
    assert.deepEqual(v.anchor, { kind: "genesis", seq: 0 });
  });

  it("finds an edited entry", async () => {
    rows[9] = { ...rows[9]!, detail: { i: 999 } };
    const v = await verifier().verify();
    assert.equal(v.ok, false);
    assert.deepEqual(v.findings.map((f) => [f.seq, f.problem]), [[10, "edited"]]);
  });

  it("finds an edited entry whose hash was recomputed (the next link breaks)", async () => {
    const e = rows[9]!;
    rows[9] = { ...e, detail: { i: 999 }, hash: hashEntry(e.prevHash, { ...e, detail: { i: 999 } }) };
    const v = await verifier().verify();
    assert.deepEqual(v.findings.map((f) => [f.seq, f.problem]), [[10, "edited"]]);
  });

  it("finds a deleted entry, a deleted head of the log and a deleted tail", async () => {
    rows.splice(14, 1);
    let v = await verifier().verify();
    assert.deepEqual(v.findings.map((f) => [f.seq, f.problem]), [[15, "deleted"]]);
    sync();
    rows.splice(0, 3);
    v = await verifier().verify();
    assert.deepEqual(v.findings.map((f) => [f.seq, f.problem]), [[1, "deleted"]]);
    sync();
    rows.splice(-2, 2);
    v = await verifier().verify();
    assert.deepEqual(v.findings.map((f) => [f.seq, f.problem]), [[29, "deleted"]]);
  });

  it("finds reordered entries", async () => {
    const [a, b] = [rows[11]!, rows[12]!];
    rows[11] = { ...b, seq: a.seq };
    rows[12] = { ...a, seq: b.seq };
    const v = await verifier().verify();
    assert.deepEqual(v.findings.map((f) => [f.seq, f.problem]), [[12, "reordered"], [13, "reordered"]]);
  });

  it("finds entries added after the head", async () => {
    const last = rows.at(-1)!;
    const forged = { ...last, seq: 31, prevHash: last.hash, detail: { forged: true } };
    rows.push({ ...forged, hash: hashEntry(last.hash, forged) });
    const v = await verifier().verify();
    assert.deepEqual(v.findings.map((f) => [f.seq, f.problem]), [[31, "inserted"]]);
  });

  it("signs checkpoints that verify, and catches a rewritten chain that a checkpoint vouched for", async () => {
    const cp = await checkpointer().checkpoint("manual", "cli");
    assert.ok(cp && checkpointSignatureValid(cp));
    assert.equal(cp.seq, 30);
    sync();
    assert.equal((await verifier().verify()).ok, true);
    // Rewrite everything from entry 20 on, hashes recomputed, head fixed up: only the checkpoint notices.
    for (let i = 19; i < rows.length; i++) {
      const prev = i === 0 ? "0".repeat(64) : rows[i - 1]!.hash;
      const e = { ...rows[i]!, prevHash: prev, detail: { ...rows[i]!.detail, rewritten: true } };
      rows[i] = { ...e, hash: hashEntry(prev, e) };
    }
    head = { seq: rows.at(-1)!.seq, hash: rows.at(-1)!.hash };
    const v = await verifier().verify();
    assert.deepEqual(v.findings.map((f) => [f.seq, f.problem]), [[30, "edited"]]);
  });

  it("refuses checkpoints signed by another key or with a broken signature", async () => {
    await checkpointer(stranger).checkpoint("manual", "cli");
    const good = await checkpointer().checkpoint("manual", "cli");
    checkpoints.rows[1] = { ...good!, seq: 5 }; // moved: signature no longer covers it
    sync();
    const v = await verifier().verify();
    assert.deepEqual(v.findings.map((f) => f.problem), ["checkpoint", "checkpoint"]);
    assert.equal(v.checkpoints.checked, 2);
    assert.equal(v.checkpoints.valid, 0);
  });

  it("starts from a purge-cut checkpoint when the head of the log was purged", async () => {
    const cut = rows[9]!;
    await checkpointer().checkpoint("purge-cut", "system", { seq: cut.seq, hash: cut.hash });
    sync();
    rows = rows.filter((r) => r.seq > 10);
    const v = await verifier().verify();
    assert.equal(v.ok, true, JSON.stringify(v.findings));
    assert.deepEqual(v.anchor, { kind: "checkpoint", seq: 10 });
    rows = rows.filter((r) => r.seq > 11);
    assert.deepEqual((await verifier().verify()).findings.map((f) => [f.seq, f.problem]), [[1, "deleted"]]);
  });

  it("makes periodic checkpoints only when due", async () => {
    const cp = checkpointer();
    assert.ok(await cp.checkpointIfDue(3_600_000));
    assert.equal(await cp.checkpointIfDue(3_600_000), undefined, "too soon");
    clock.advance(3_600_001);
    assert.equal(await cp.checkpointIfDue(3_600_000), undefined, "nothing new since");
    await audit.append({ at: clock.now(), action: "test.step", actor: "system", subject: null, outcome: "success", detail: {} });
    assert.ok(await cp.checkpointIfDue(3_600_000));
  });
});
