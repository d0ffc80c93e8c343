import type { Knex } from "knex";
import { hashEntry } from "../ca/audit/audit-chain.js";
import { CaError } from "../ca/errors.js";
import type { AuditStore, Tx } from "../ca/stores.js";
import type { AuditEntry, AuditEntryInput } from "../ca/types.js";
import { dateFromColumn, jsonToParameter, objectFromColumn } from "./column-values.js";
import type { Database } from "./database.js";

/**
 * AuditStore on PostgreSQL / PGlite (tables audit_log and audit_head, migration 0003).
 *
 * append locks the single audit_head row (`SELECT … FOR UPDATE`) for the rest of the transaction, so
 * appends from any number of connections or processes are totally ordered and the hash chain never
 * forks; then one statement inserts the entry and moves the head. The lock is held until commit: keep
 * audited transactions short, and append last.
 */
export class KnexAuditStore implements AuditStore {
  constructor(private readonly db: Database) {}

  async append(entry: AuditEntryInput, tx?: Tx): Promise<AuditEntry> {
    // Without tx, the head lock needs a transaction of its own.
    if (tx === undefined || tx === null) return this.db.transaction((own) => this.appendIn(this.db.executor(own), entry));
    return this.appendIn(this.db.executor(tx), entry);
  }

  async range(fromSeq: number, limit: number, tx?: Tx): Promise<AuditEntry[]> {
    const rows = await this.db.executor(tx)("audit_log").where("seq", ">=", fromSeq).orderBy("seq").limit(limit);
    return rows.map(auditEntryFromRow);
  }

  private async appendIn(k: Knex, input: AuditEntryInput): Promise<AuditEntry> {
    const head = (await k("audit_head").where({ id: 1 }).forUpdate().first("seq", "hash")) as
      | { seq: number; hash: string }
      | undefined;
    if (head === undefined) throw new CaError("internal", "audit_head row missing: run the migrations");
    const seq = head.seq + 1;
    const fields = {
      seq,
      at: input.at,
      action: input.action,
      actor: input.actor,
      subject: input.subject ?? null,
      outcome: input.outcome,
      detail: input.detail,
    };
    const hash = hashEntry(head.hash, fields);
    // The entry and the new head in one statement (a data-modifying CTE): one round trip less under the lock.
    const entryRow = {
      seq,
      at: input.at,
      action: input.action,
      actor: input.actor,
      subject: fields.subject,
      outcome: input.outcome,
      detail: jsonToParameter(input.detail),
      prev_hash: head.hash,
      hash,
    };
    await k("audit_head").with("entry", k("audit_log").insert(entryRow)).where({ id: 1 }).update({ seq, hash });
    // Return what a later read returns (detail through JSON, as jsonb stores it).
    return { ...fields, detail: JSON.parse(jsonToParameter(input.detail)) as Record<string, unknown>, prevHash: head.hash, hash };
  }
}

/** Row → domain record. */
function auditEntryFromRow(row: Record<string, unknown>): AuditEntry {
  return {
    seq: row.seq as number,
    at: dateFromColumn(row.at),
    action: row.action as string,
    actor: row.actor as string,
    subject: (row.subject as string | null) ?? null,
    outcome: row.outcome as AuditEntry["outcome"],
    detail: objectFromColumn(row.detail),
    prevHash: row.prev_hash as string,
    hash: row.hash as string,
  };
}
