import { CaError } from "../ca/errors.js";
import type { NewOperator, OperatorRecord, OperatorStore } from "../ca/operators/operator-ports.js";
import type { OperatorRole } from "../ca/operators/roles.js";
import type { Tx } from "../ca/stores.js";
import { dateFromColumn, jsonToParameter, nullableDateFromColumn } from "./column-values.js";
import type { Database } from "./database.js";
import { mapConstraintErrors } from "./database-errors.js";

const TABLE = "operators";

/**
 * OperatorStore on PostgreSQL / PGlite (table operators, migration 0005). Failure counting is one
 * `UPDATE … SET failed_attempts = failed_attempts + 1 … RETURNING`, so concurrent wrong passwords on
 * several API nodes all count and the third one locks (告示334号 第4-4(8)).
 */
export class KnexOperatorStore implements OperatorStore {
  constructor(private readonly db: Database) {}

  async insert(op: NewOperator, tx?: Tx): Promise<void> {
    await mapConstraintErrors("operator", () =>
      this.db.executor(tx)(TABLE).insert({
        operator_id: op.operatorId,
        display_name: op.displayName,
        roles: jsonToParameter(op.roles),
        password_hash: op.passwordHash,
        password_changed_at: op.createdAt,
        must_change_password: op.mustChangePassword,
        failed_attempts: 0,
        locked_at: null,
        active: true,
        created_at: op.createdAt,
        updated_at: op.createdAt,
      }),
    );
  }

  async get(operatorId: string, tx?: Tx): Promise<OperatorRecord | undefined> {
    const row = await this.db.executor(tx)(TABLE).where({ operator_id: operatorId }).first();
    return row === undefined ? undefined : operatorFromRow(row);
  }

  async list(tx?: Tx): Promise<OperatorRecord[]> {
    const rows = await this.db.executor(tx)(TABLE).orderBy("operator_id");
    return rows.map(operatorFromRow);
  }

  async recordFailure(operatorId: string, at: Date, lockAfter: number, tx?: Tx): Promise<{ failedAttempts: number; lockedAt: Date | null } | undefined> {
    const k = this.db.executor(tx);
    const rows = (await k(TABLE)
      .where({ operator_id: operatorId })
      .update(
        {
          failed_attempts: k.raw("failed_attempts + 1"),
          locked_at: k.raw("case when locked_at is null and failed_attempts + 1 >= ? then ?::timestamptz else locked_at end", [lockAfter, at.toISOString()]),
          updated_at: at,
        },
        ["failed_attempts", "locked_at"],
      )) as Array<Record<string, unknown>>;
    const row = rows[0];
    return row === undefined ? undefined : { failedAttempts: row.failed_attempts as number, lockedAt: nullableDateFromColumn(row.locked_at) };
  }

  async recordSuccess(operatorId: string, at: Date, tx?: Tx): Promise<boolean> {
    const rows = await this.db
      .executor(tx)(TABLE)
      .where({ operator_id: operatorId })
      .whereNull("locked_at")
      .update({ failed_attempts: 0, updated_at: at }, ["operator_id"]);
    return rows.length > 0;
  }

  async unlock(operatorId: string, at: Date, tx?: Tx): Promise<boolean> {
    const rows = await this.db.executor(tx)(TABLE).where({ operator_id: operatorId }).update({ failed_attempts: 0, locked_at: null, updated_at: at }, ["operator_id"]);
    return rows.length > 0;
  }

  async setPassword(operatorId: string, change: { passwordHash: string; mustChangePassword: boolean; at: Date }, tx?: Tx): Promise<void> {
    await this.update(operatorId, tx, {
      password_hash: change.passwordHash,
      must_change_password: change.mustChangePassword,
      password_changed_at: change.at,
      updated_at: change.at,
    });
  }

  async setRoles(operatorId: string, roles: readonly OperatorRole[], at: Date, tx?: Tx): Promise<void> {
    await this.update(operatorId, tx, { roles: jsonToParameter(roles), updated_at: at });
  }

  async setActive(operatorId: string, active: boolean, at: Date, tx?: Tx): Promise<void> {
    await this.update(operatorId, tx, { active, updated_at: at });
  }

  async setConfirmation(operatorId: string, confirmation: { by: string; at: Date } | null, tx?: Tx): Promise<void> {
    await this.update(operatorId, tx, { confirmed_by: confirmation?.by ?? null, confirmed_at: confirmation?.at ?? null, ...(confirmation ? { updated_at: confirmation.at } : {}) });
  }

  async addSponsors(operatorId: string, sponsors: readonly string[], at: Date, tx?: Tx): Promise<void> {
    const k = this.db.executor(tx);
    // A set union in one statement, so two changes committed at once both stay recorded.
    await this.update(operatorId, tx, {
      sponsors: k.raw("(select coalesce(jsonb_agg(distinct s order by s), '[]'::jsonb) from jsonb_array_elements_text(sponsors || ?::jsonb) as s)", [jsonToParameter(sponsors)]),
      updated_at: at,
    });
  }

  private async update(operatorId: string, tx: Tx | undefined, values: Record<string, unknown>): Promise<void> {
    const rows = await this.db.executor(tx)(TABLE).where({ operator_id: operatorId }).update(values, ["operator_id"]);
    if (rows.length === 0) throw new CaError("not-found", "operator not found");
  }
}

/** Row → domain record. */
export function operatorFromRow(row: Record<string, unknown>): OperatorRecord {
  return {
    operatorId: row.operator_id as string,
    displayName: (row.display_name as string | null) ?? null,
    roles: row.roles as OperatorRole[],
    passwordHash: row.password_hash as string,
    passwordChangedAt: dateFromColumn(row.password_changed_at),
    mustChangePassword: row.must_change_password as boolean,
    failedAttempts: row.failed_attempts as number,
    lockedAt: nullableDateFromColumn(row.locked_at),
    active: row.active as boolean,
    createdAt: dateFromColumn(row.created_at),
    updatedAt: dateFromColumn(row.updated_at),
    confirmedBy: (row.confirmed_by as string | null | undefined) ?? null,
    confirmedAt: nullableDateFromColumn(row.confirmed_at ?? null),
    sponsors: Array.isArray(row.sponsors) ? (row.sponsors as string[]) : typeof row.sponsors === "string" ? (JSON.parse(row.sponsors) as string[]) : [],
  };
}
