import type { ApprovalChange, ApprovalListFilter, ApprovalRecord, ApprovalStatus, ApprovalStore } from "../ca/approvals/approval.js";
import type { Tx } from "../ca/stores.js";
import { dateFromColumn, jsonToParameter, nullableDateFromColumn, objectFromColumn, rowsOf } from "./column-values.js";
import type { Database } from "./database.js";
import { mapConstraintErrors } from "./database-errors.js";

type Row = Record<string, unknown>;
const TABLE = "approvals";

/**
 * ApprovalStore on PostgreSQL / PGlite (table approvals, migration 0013). Every state change is one
 * conditional `UPDATE … WHERE status = <from>`, so two approvers (or an approver and the expiry sweep)
 * on different API nodes cannot both win.
 */
export class KnexApprovalStore implements ApprovalStore {
  constructor(private readonly db: Database) {}

  async insert(r: ApprovalRecord, tx?: Tx): Promise<void> {
    await mapConstraintErrors("approval", () =>
      this.db.executor(tx)(TABLE).insert({
        id: r.id,
        kind: r.kind,
        status: r.status,
        requested_by: r.requestedBy,
        requested_at: r.requestedAt,
        expires_at: r.expiresAt,
        params: jsonToParameter(r.params),
        decided_by: r.decidedBy,
        decided_at: r.decidedAt,
        executed_at: r.executedAt,
        result: r.result === null ? null : jsonToParameter(r.result),
        failure: r.failure,
        consumed_at: r.consumedAt,
      }),
    );
  }

  async get(id: string, tx?: Tx): Promise<ApprovalRecord | undefined> {
    const row = (await this.db.executor(tx)(TABLE).where({ id }).first()) as Row | undefined;
    return row ? approvalFromRow(row) : undefined;
  }

  async list(filter: ApprovalListFilter, tx?: Tx): Promise<ApprovalRecord[]> {
    const q = this.db.executor(tx)(TABLE);
    if (filter.status) q.where({ status: filter.status });
    if (filter.kind) q.where({ kind: filter.kind });
    const rows = (await q.orderBy([{ column: "requested_at", order: "desc" }, { column: "id" }]).limit(filter.limit)) as Row[];
    return rows.map(approvalFromRow);
  }

  async transition(id: string, from: ApprovalStatus, change: ApprovalChange, tx?: Tx): Promise<boolean> {
    const set: Row = { status: change.status };
    if (change.decidedBy !== undefined) set.decided_by = change.decidedBy;
    if (change.decidedAt !== undefined) set.decided_at = change.decidedAt;
    if (change.executedAt !== undefined) set.executed_at = change.executedAt;
    if (change.result !== undefined) set.result = jsonToParameter(change.result);
    if (change.failure !== undefined) set.failure = change.failure;
    if (change.handover !== undefined) set.handover = change.handover;
    const rows = await this.db.executor(tx)(TABLE).where({ id, status: from }).update(set, ["id"]);
    return rows.length === 1;
  }

  async listExpired(now: Date, limit: number, tx?: Tx): Promise<ApprovalRecord[]> {
    const rows = (await this.db.executor(tx)(TABLE).where({ status: "pending" }).andWhere("expires_at", "<", now).orderBy("expires_at").limit(limit)) as Row[];
    return rows.map(approvalFromRow);
  }

  /**
   * Reads and erases the handover part in one statement (the row lock of the inner SELECT … FOR UPDATE
   * makes a concurrent second collection find it erased).
   */
  async takeHandover(id: string, tx?: Tx): Promise<string | undefined> {
    const result = await this.db.executor(tx).raw(
      "update approvals a set handover = null from (select id, handover from approvals where id = ? and handover is not null for update) old where a.id = old.id returning old.handover as handover",
      [id],
    );
    const row = rowsOf(result)[0];
    return row === undefined || row.handover === null || row.handover === undefined ? undefined : String(row.handover);
  }

  async markConsumed(id: string, at: Date, tx?: Tx): Promise<boolean> {
    const rows = await this.db.executor(tx)(TABLE).where({ id, status: "executed" }).whereNull("consumed_at").update({ consumed_at: at }, ["id"]);
    return rows.length === 1;
  }
}

function approvalFromRow(row: Row): ApprovalRecord {
  return {
    id: String(row.id),
    kind: String(row.kind),
    status: String(row.status) as ApprovalStatus,
    requestedBy: String(row.requested_by),
    requestedAt: dateFromColumn(row.requested_at),
    expiresAt: dateFromColumn(row.expires_at),
    params: objectFromColumn(row.params),
    decidedBy: row.decided_by === null || row.decided_by === undefined ? null : String(row.decided_by),
    decidedAt: nullableDateFromColumn(row.decided_at),
    executedAt: nullableDateFromColumn(row.executed_at),
    result: row.result === null || row.result === undefined ? null : objectFromColumn(row.result),
    failure: row.failure === null || row.failure === undefined ? null : String(row.failure),
    consumedAt: nullableDateFromColumn(row.consumed_at),
  };
}
