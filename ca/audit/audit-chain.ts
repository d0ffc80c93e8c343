/**
 * @packageDocumentation
 * ca/audit: the operation history, tamper-evident.
 *
 * - audit-chain.ts (this file): the hash chain — canonical form of an entry, its hash, verification.
 * - audit-checkpoint.ts: HSM-signed checkpoints of the chain (what proves the chain was not rewritten).
 * - audit-checkpoint-key.ts: the checkpoint key's label, algorithm and custody.
 * - audit-verifier.ts: `audit verify` — walks the whole log page by page from its anchor.
 * The store port is AuditStore in ca/stores.ts; retention of the log is ca/records/retention-audit.ts.
 */
import { canonicalJson } from "../canonical-json.js";
import { sha256Hex } from "../sha256.js";
import type { AuditEntry, AuditEntryInput } from "../types.js";

/**
 * The audit log's hash chain (docs/domain.md §6: operation history recorded and auditable, 告示334号 第4-4(6)).
 *
 * Each entry's `hash` is SHA-256 over the previous entry's hash and this entry's canonical form, so
 * changing, removing or reordering any entry breaks every later link. The canonical form includes
 * `seq`, so renumbering is detected too. Pure: no I/O, usable by the stores and by `audit verify`.
 */

/** The `prevHash` of the very first entry (seq 1). */
export const GENESIS_PREV_HASH = "0".repeat(64);

/** What the hash covers: the entry's input fields plus its position in the chain. */
export type ChainedAuditFields = AuditEntryInput & { readonly seq: number };

/**
 * Canonical JSON of an audit entry: object keys sorted (UTF-16 code unit order, at every depth),
 * no whitespace, `Date` as ISO 8601 with milliseconds, `undefined` members dropped, `subject`
 * absent → null. `detail` goes through JSON semantics first (toJSON, non-finite numbers → null), which
 * is exactly what a jsonb column stores, so an entry read back from the database has the same
 * canonical form as the one that was written. `detail` must not contain BigInt (JSON has none).
 */
export function canonicalAuditEntry(entry: ChainedAuditFields): string {
  if (!Number.isSafeInteger(entry.seq) || entry.seq < 1) throw new RangeError("audit seq must be a positive integer");
  const fields = {
    seq: entry.seq,
    at: entry.at.toISOString(),
    action: entry.action,
    actor: entry.actor,
    subject: entry.subject ?? null,
    outcome: entry.outcome,
    detail: entry.detail,
  };
  return canonicalJson(JSON.parse(JSON.stringify(fields)) as unknown);
}

/** hex SHA-256( prevHash (64 lower-case hex characters) || canonical form ), both as UTF-8. */
export function hashEntry(prevHash: string, entry: ChainedAuditFields): string {
  if (!/^[0-9a-f]{64}$/.test(prevHash)) throw new RangeError("prevHash must be 64 lower-case hex characters");
  return sha256Hex(prevHash + canonicalAuditEntry(entry));
}

/** Why a link failed. */
export type ChainBreak = "seq-gap" | "prev-hash" | "hash";

export type ChainVerdict =
  | { readonly ok: true; readonly count: number; readonly lastSeq: number | null; readonly lastHash: string }
  | { readonly ok: false; readonly seq: number; readonly reason: ChainBreak };

/**
 * Verifies entries in seq order. `startPrevHash` is the hash the first entry must link to:
 * GENESIS_PREV_HASH from seq 1, or the last hash of the previous page when verifying page by page
 * (pass `lastHash` of the previous verdict), or the first kept entry's prevHash after a purge.
 * Returns the first bad seq.
 */
export function verifyChain(entries: Iterable<AuditEntry>, startPrevHash: string = GENESIS_PREV_HASH): ChainVerdict {
  let prev = startPrevHash;
  let prevSeq: number | null = null;
  let count = 0;
  for (const e of entries) {
    if (prevSeq !== null && e.seq !== prevSeq + 1) return { ok: false, seq: e.seq, reason: "seq-gap" };
    if (e.prevHash !== prev) return { ok: false, seq: e.seq, reason: "prev-hash" };
    let expected: string;
    try {
      expected = hashEntry(prev, e);
    } catch {
      return { ok: false, seq: e.seq, reason: "hash" };
    }
    if (e.hash !== expected) return { ok: false, seq: e.seq, reason: "hash" };
    prev = e.hash;
    prevSeq = e.seq;
    count++;
  }
  return { ok: true, count, lastSeq: prevSeq, lastHash: prev };
}
