import { CaError } from "../ca/errors.js";
import type { Clock } from "../ca/ports.js";
import { defaultRetentionPeriods } from "../ca/records/retention.js";
import type { ResidentMirrorStore } from "../ca/residents/resident-event-ports.js";
import type { AuditStore, TransactionRunner } from "../ca/stores.js";

/**
 * docs/domain.md §3: superseded versions of the resident record are erased once their retention period
 * (default 5 years, the standard for resident data) has passed since they were superseded. The
 * current record is never touched. Dry-run counts what would go; a real run deletes in batches, each
 * its own transaction with its audit entry, so a long purge never holds locks for long.
 */

/** The period of the `superseded-resident-records` retention task too (ca/records/retention.ts): one rule, two entry points. */
export const DEFAULT_RESIDENT_HISTORY_RETENTION_YEARS = defaultRetentionPeriods.supersededResidentRecordYears;

export interface PurgeOptions {
  readonly retentionYears?: number;
  readonly dryRun: boolean;
  /** Rows per transaction (default 10,000). */
  readonly batchSize?: number;
}

export interface PurgeReport {
  readonly cutoff: Date;
  readonly dryRun: boolean;
  /** Rows deleted, or with dryRun the rows that would be. */
  readonly rows: number;
}

/** The instant `years` calendar years before `now` (Feb 29 falls back to Feb 28). */
export function retentionCutoff(now: Date, years: number): Date {
  const d = new Date(now.getTime());
  const day = d.getUTCDate();
  d.setUTCFullYear(d.getUTCFullYear() - years);
  if (d.getUTCDate() !== day) d.setUTCDate(0); // rolled into March: last day of February
  return d;
}

export async function purgeResidentHistory(
  deps: { readonly clock: Clock; readonly transactions: TransactionRunner; readonly mirror: Pick<ResidentMirrorStore, "countSupersededBefore" | "deleteSupersededBefore">; readonly audit: Pick<AuditStore, "append"> },
  actor: string,
  options: PurgeOptions,
): Promise<PurgeReport> {
  const years = options.retentionYears ?? DEFAULT_RESIDENT_HISTORY_RETENTION_YEARS;
  if (!Number.isInteger(years) || years < 1) throw new CaError("invalid-input", "retention must be a whole number of years, at least 1", { field: "retentionYears" });
  const now = deps.clock.now();
  const cutoff = retentionCutoff(now, years);
  if (options.dryRun) return { cutoff, dryRun: true, rows: await deps.mirror.countSupersededBefore(cutoff) };
  const batch = options.batchSize ?? 10_000;
  let rows = 0;
  for (;;) {
    const n = await deps.transactions.transaction(async (tx) => {
      const deleted = await deps.mirror.deleteSupersededBefore(cutoff, batch, tx);
      if (deleted > 0) {
        await deps.audit.append({ at: now, action: "resident-history.purged", actor, subject: null, outcome: "success", detail: { cutoff: cutoff.toISOString(), retentionYears: years, rows: deleted } }, tx);
      }
      return deleted;
    });
    rows += n;
    if (n < batch) break;
  }
  return { cutoff, dryRun: false, rows };
}
