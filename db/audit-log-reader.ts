import type { AuditHead } from "../ca/audit/audit-checkpoint.js";
import type { AuditLogReader } from "../ca/audit/audit-verifier.js";
import type { Tx } from "../ca/stores.js";
import type { AuditEntry } from "../ca/types.js";
import { dateFromColumn, objectFromColumn } from "./column-values.js";
import type { Database } from "./database.js";

type Row = Record<string, unknown>;

export interface AuditSearch {
  /** Inclusive. */
  readonly from: Date;
  /** Exclusive. */
  readonly to: Date;
  /** Paging cursor: entries with seq > afterSeq. */
  readonly afterSeq?: number;
  /** Exact action, e.g. "anomaly.detected". */
  readonly action?: string;
  readonly limit: number;
}

/**
 * Read side of the audit log (tables audit_log and audit_head, migration 0003) for the verifier, the
 * auditor's `GET /v1/admin/audit` and the anomaly monitor. Reads only: writes go through
 * KnexAuditStore (append) and the retention purge.
 */
export class KnexAuditLogReader implements AuditLogReader {
  constructor(private readonly db: Database) {}

  async head(tx?: Tx): Promise<AuditHead> {
    const row = (await this.db.executor(tx)("audit_head").where({ id: 1 }).first("seq", "hash")) as Row | undefined;
    return row ? { seq: Number(row.seq), hash: String(row.hash) } : { seq: 0, hash: "0".repeat(64) };
  }

  async firstSeq(tx?: Tx): Promise<number | null> {
    const row = (await this.db.executor(tx)("audit_log").min({ m: "seq" }).first()) as Row | undefined;
    return row?.m === null || row?.m === undefined ? null : Number(row.m);
  }

  async range(fromSeq: number, limit: number, tx?: Tx): Promise<AuditEntry[]> {
    const rows = (await this.db.executor(tx)("audit_log").where("seq", ">=", fromSeq).orderBy("seq").limit(limit)) as Row[];
    return rows.map(auditEntryFromRow);
  }

  /** Entries written in [from, to), in seq order (the `at` index). */
  async search(s: AuditSearch, tx?: Tx): Promise<AuditEntry[]> {
    const q = this.db.executor(tx)("audit_log").where("at", ">=", s.from).andWhere("at", "<", s.to);
    if (s.afterSeq !== undefined) q.andWhere("seq", ">", s.afterSeq);
    if (s.action !== undefined) q.andWhere({ action: s.action });
    const rows = (await q.orderBy("seq").limit(s.limit)) as Row[];
    return rows.map(auditEntryFromRow);
  }
}

export function auditEntryFromRow(row: Row): AuditEntry {
  return {
    seq: Number(row.seq),
    at: dateFromColumn(row.at),
    action: String(row.action),
    actor: String(row.actor),
    subject: row.subject === null || row.subject === undefined ? null : String(row.subject),
    outcome: String(row.outcome) as AuditEntry["outcome"],
    detail: objectFromColumn(row.detail),
    prevHash: String(row.prev_hash),
    hash: String(row.hash),
  };
}
