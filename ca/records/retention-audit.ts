import type { AuditCheckpointer, AuditHead } from "../audit/audit-checkpoint.js";
import type { AuditVerification } from "../audit/audit-verifier.js";
import { CaError } from "../errors.js";
import { yearsBefore, type RetentionTask } from "./retention.js";

/** What the audit-log purge needs of the database (db/retention-audit-log.ts). */
export interface AuditPurgePort {
  /**
   * The cut: the last entry such that it and every entry before it were written before `cutoff`
   * (entries are purged only as a prefix of the chain), with how many entries are at or before it.
   * Null when the first entry is not older than the cutoff.
   */
  cutBefore(cutoff: Date): Promise<(AuditHead & { readonly count: number }) | null>;
  /** Deletes the entries with seq ≤ `seq` (past the append-only trigger); returns how many. */
  deleteThrough(seq: number): Promise<number>;
}

/**
 * The audit log's retention (7 years, 久御山町 規程 第20条). The cut must leave the rest verifiable:
 * first the whole chain is verified (a purge must not destroy the evidence of tampering), then a
 * checkpoint over the last entry to go is signed with the HSM key, then the prefix is deleted. The
 * verifier starts the remaining chain from that checkpoint (ca/audit/audit-verifier.ts).
 */
export function auditLogRetentionTask(deps: {
  years: number;
  port: AuditPurgePort;
  checkpointer: Pick<AuditCheckpointer, "checkpoint">;
  verify: () => Promise<AuditVerification>;
}): RetentionTask {
  return {
    name: "audit-log",
    rule: `audit log entries older than ${deps.years} years (a signed checkpoint marks the cut)`,
    async plan(now) {
      const cutoff = yearsBefore(now, deps.years);
      const cut = await deps.port.cutBefore(cutoff);
      return { available: true, cutoff, eligible: cut?.count ?? 0 };
    },
    async apply(now) {
      const cut = await deps.port.cutBefore(yearsBefore(now, deps.years));
      if (cut === null) return { purged: 0 };
      const verdict = await deps.verify();
      if (!verdict.ok) throw new CaError("conflict", `the audit log does not verify (${verdict.findings.length} finding(s), first at ${verdict.findings[0]?.seq ?? "?"}): purge refused to keep the evidence`);
      const checkpoint = await deps.checkpointer.checkpoint("purge-cut", "system", { seq: cut.seq, hash: cut.hash });
      if (checkpoint === undefined) throw new CaError("internal", "no checkpoint was made at the cut");
      const purged = await deps.port.deleteThrough(cut.seq);
      return { purged, detail: { cutSeq: cut.seq, checkpointId: checkpoint.id } };
    },
  };
}
