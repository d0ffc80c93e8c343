import { GENESIS_PREV_HASH, hashEntry } from "./audit-chain.js";
import { checkpointSignatureValid, type AuditCheckpoint, type AuditCheckpointStore, type AuditHead } from "./audit-checkpoint.js";
import type { AuditStore } from "../stores.js";
import type { AuditEntry } from "../types.js";

/**
 * Verification of the whole audit log (告示334号 第4-4(6); docs/api.md §7 `POST /v1/admin/audit/verify`,
 * §8 `audit verify`). Walks the chain in pages from its anchor — the genesis, or the signed checkpoint
 * at the last retention cut — and reports every place where it was tampered with:
 *
 * - **edited**: an entry's content no longer gives its stored hash, or (hash recomputed too) the next
 *   entry no longer links to it, or a signed checkpoint disagrees with it;
 * - **deleted**: a gap in seq, a missing head of the log without a purge checkpoint, a missing tail
 *   (audit_head or a checkpoint names a later entry);
 * - **reordered**: an entry's content hashes correctly only at another position;
 * - **inserted**: entries after the recorded head;
 * - **checkpoint**: a checkpoint whose signature fails or whose key is not the trusted one.
 */
export type AuditProblem = "edited" | "deleted" | "reordered" | "inserted" | "checkpoint";

export interface AuditFinding {
  readonly seq: number;
  readonly problem: AuditProblem;
  /** What was seen; never personal data (seq numbers and hashes only). */
  readonly detail: string;
}

export interface AuditVerification {
  readonly ok: boolean;
  readonly checkedAt: string;
  /** Entries read. */
  readonly entries: number;
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  readonly head: AuditHead;
  /** Where the chain starts: from seq 1, or from the signed checkpoint at the last retention cut. */
  readonly anchor: { readonly kind: "genesis" | "checkpoint" | "none"; readonly seq: number };
  readonly checkpoints: { readonly checked: number; readonly valid: number };
  /** At most `maxFindings`, in seq order. */
  readonly findings: readonly AuditFinding[];
  /** More findings than reported. */
  readonly findingsTruncated: boolean;
}

/** What the verifier reads (db/audit-log-reader.ts). */
export interface AuditLogReader {
  head(): Promise<AuditHead>;
  /** Lowest seq in the table, or null when it is empty. */
  firstSeq(): Promise<number | null>;
  range: AuditStore["range"];
}

export interface AuditVerifierDeps {
  readonly log: AuditLogReader;
  readonly checkpoints: Pick<AuditCheckpointStore, "list">;
  /** SPKI DER of the keys checkpoints may be signed with (the HSM's audit-checkpoint key). */
  readonly trustedKeys: readonly Uint8Array[];
  readonly now: () => Date;
  readonly pageSize?: number;
  readonly maxFindings?: number;
  /** Where `verifyAndRecord` writes that a verification ran (and what it found). */
  readonly audit?: Pick<AuditStore, "append">;
}

/** How far around its position a moved entry is looked for. */
const REORDER_WINDOW = 16;

export class AuditVerifier {
  constructor(private readonly deps: AuditVerifierDeps) {}

  /** Verifies and appends "audit.verified" (who ran it, the verdict, the first finding). */
  async verifyAndRecord(actor: string): Promise<AuditVerification> {
    const v = await this.verify();
    await this.deps.audit?.append({
      at: this.deps.now(),
      action: "audit.verified",
      actor,
      subject: null,
      outcome: v.ok ? "success" : "failure",
      detail: { ok: v.ok, entries: v.entries, firstSeq: v.firstSeq, lastSeq: v.lastSeq, findings: v.findings.length, firstFinding: v.findings[0] ?? null, checkpoints: v.checkpoints },
    });
    return v;
  }

  async verify(): Promise<AuditVerification> {
    const pageSize = this.deps.pageSize ?? 1000;
    const maxFindings = this.deps.maxFindings ?? 100;
    const findings: AuditFinding[] = [];
    let total = 0;
    const report = (f: AuditFinding): void => {
      total++;
      if (findings.length < maxFindings) findings.push(f);
    };

    const head = await this.deps.log.head();
    const checkpoints = await this.loadCheckpoints();
    const trusted = new Set(this.deps.trustedKeys.map((k) => Buffer.from(k).toString("hex")));
    const validBySeq = new Map<number, AuditCheckpoint[]>();
    let valid = 0;
    for (const c of checkpoints) {
      if (!checkpointSignatureValid(c)) report({ seq: c.seq, problem: "checkpoint", detail: `checkpoint ${c.id}: signature does not verify` });
      else if (!trusted.has(Buffer.from(c.publicKey).toString("hex"))) report({ seq: c.seq, problem: "checkpoint", detail: `checkpoint ${c.id}: signed by a key that is not the audit checkpoint key` });
      else {
        valid++;
        validBySeq.set(c.seq, [...(validBySeq.get(c.seq) ?? []), c]);
      }
    }

    const first = await this.deps.log.firstSeq();
    let anchor: AuditVerification["anchor"] = { kind: "none", seq: 0 };
    let prevHash: string | undefined;
    if (first === 1) {
      anchor = { kind: "genesis", seq: 0 };
      prevHash = GENESIS_PREV_HASH;
    } else if (first !== null) {
      const cut = validBySeq.get(first - 1)?.[0];
      if (cut) {
        anchor = { kind: "checkpoint", seq: cut.seq };
        prevHash = cut.hash;
      } else {
        report({ seq: 1, problem: "deleted", detail: `entries 1–${first - 1} are missing and no signed checkpoint marks a retention cut at ${first - 1}` });
      }
    } else if (head.seq > 0) {
      report({ seq: 1, problem: "deleted", detail: `the log is empty but its head is at ${head.seq}` });
    }

    let prevSeq = first === null ? 0 : first - 1;
    let lastHash: string | undefined;
    let previousBad = false;
    let count = 0;
    let from = first ?? 1;
    for (;;) {
      const page = first === null ? [] : await this.deps.log.range(from, pageSize);
      if (page.length === 0) break;
      for (const e of page) {
        count++;
        if (e.seq > prevSeq + 1) {
          report({ seq: prevSeq + 1, problem: "deleted", detail: e.seq === prevSeq + 2 ? `entry ${prevSeq + 1} is missing` : `entries ${prevSeq + 1}–${e.seq - 1} are missing` });
          previousBad = true;
        }
        const selfOk = recomputes(e, e.seq);
        const linkOk = prevHash === undefined || e.prevHash === prevHash;
        if (!selfOk) {
          const moved = movedFrom(e);
          report(moved !== undefined
            ? { seq: e.seq, problem: "reordered", detail: `the entry stored at ${e.seq} was written as entry ${moved}` }
            : { seq: e.seq, problem: "edited", detail: `entry ${e.seq} does not match its hash` });
          previousBad = true;
        } else if (!linkOk && !previousBad) {
          report({ seq: e.seq - 1, problem: "edited", detail: `entry ${e.seq} no longer links to entry ${e.seq - 1}: that entry was changed (or replaced) and its hash recomputed` });
          previousBad = true;
        } else {
          previousBad = false;
        }
        for (const c of validBySeq.get(e.seq) ?? []) {
          if (c.hash !== e.hash) report({ seq: e.seq, problem: "edited", detail: `entry ${e.seq} differs from signed checkpoint ${c.id}` });
        }
        prevHash = e.hash;
        lastHash = e.hash;
        prevSeq = e.seq;
      }
      from = prevSeq + 1;
      if (page.length < pageSize) break;
    }

    const last = count > 0 ? prevSeq : null;
    if (head.seq > prevSeq && (count > 0 || first !== null)) {
      report({ seq: prevSeq + 1, problem: "deleted", detail: `entries ${prevSeq + 1}–${head.seq} are missing at the end (the head is at ${head.seq})` });
    } else if (count > 0 && head.seq === prevSeq && head.hash !== lastHash) {
      report({ seq: prevSeq, problem: "edited", detail: `the last entry ${prevSeq} differs from the recorded head` });
    } else if (count > 0 && prevSeq > head.seq) {
      report({ seq: head.seq + 1, problem: "inserted", detail: `entries ${head.seq + 1}–${prevSeq} were added after the recorded head` });
    }
    for (const [seq, cs] of validBySeq) {
      if (seq > prevSeq && seq > head.seq) report({ seq, problem: "deleted", detail: `signed checkpoint ${cs[0]!.id} vouches for entry ${seq}, which is gone` });
    }

    findings.sort((a, b) => a.seq - b.seq);
    return {
      ok: total === 0,
      checkedAt: this.deps.now().toISOString(),
      entries: count,
      firstSeq: first,
      lastSeq: last,
      head,
      anchor,
      checkpoints: { checked: checkpoints.length, valid },
      findings,
      findingsTruncated: total > findings.length,
    };
  }

  private async loadCheckpoints(): Promise<AuditCheckpoint[]> {
    const all: AuditCheckpoint[] = [];
    for (;;) {
      const page = await this.deps.checkpoints.list(all.length === 0 ? 0 : all[all.length - 1]!.id, 1000);
      all.push(...page);
      if (page.length < 1000) return all;
    }
  }
}

/** Whether the entry's content, placed at `seq`, hashes to its stored hash. */
function recomputes(e: AuditEntry, seq: number): boolean {
  try {
    return hashEntry(e.prevHash, { ...e, seq }) === e.hash;
  } catch {
    return false;
  }
}

/** The position the entry was written at, if it is near and not its own. */
function movedFrom(e: AuditEntry): number | undefined {
  for (let d = 1; d <= REORDER_WINDOW; d++) {
    for (const s of [e.seq - d, e.seq + d]) if (s >= 1 && recomputes(e, s)) return s;
  }
  return undefined;
}
