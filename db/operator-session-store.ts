import type { NewOperatorSession, OperatorSessionRecord, OperatorSessionStore } from "../ca/operators/operator-ports.js";
import type { Tx } from "../ca/stores.js";
import { dateFromColumn, nullableDateFromColumn } from "./column-values.js";
import type { Database } from "./database.js";
import { mapConstraintErrors } from "./database-errors.js";

const TABLE = "operator_sessions";

/**
 * OperatorSessionStore on PostgreSQL / PGlite (table operator_sessions, migration 0005). Rows are
 * keyed by the token's SHA-256; `touch` checks the idle limit in the same UPDATE that slides it.
 * Ended sessions are kept (logon history, 久御山町 第20条の2-6) until a retention job removes them.
 */
export class KnexOperatorSessionStore implements OperatorSessionStore {
  constructor(private readonly db: Database) {}

  async insert(s: NewOperatorSession, tx?: Tx): Promise<void> {
    await mapConstraintErrors("operator session", () =>
      this.db.executor(tx)(TABLE).insert({
        token_hash: s.tokenHash,
        operator_id: s.operatorId,
        terminal_fingerprint: s.terminalFingerprint,
        created_at: s.createdAt,
        last_seen_at: s.createdAt,
        ended_at: null,
      }),
    );
  }

  async get(tokenHash: string, tx?: Tx): Promise<OperatorSessionRecord | undefined> {
    const row = await this.db.executor(tx)(TABLE).where({ token_hash: tokenHash }).first();
    return row === undefined ? undefined : sessionFromRow(row);
  }

  async touch(tokenHash: string, at: Date, idleSince: Date, tx?: Tx): Promise<boolean> {
    const k = this.db.executor(tx);
    const rows = await k(TABLE)
      .where({ token_hash: tokenHash })
      .whereNull("ended_at")
      .andWhere("last_seen_at", ">=", idleSince)
      .update({ last_seen_at: k.raw("greatest(last_seen_at, ?::timestamptz)", [at.toISOString()]) }, ["token_hash"]);
    return rows.length > 0;
  }

  async end(tokenHash: string, at: Date, tx?: Tx): Promise<boolean> {
    const rows = await this.db.executor(tx)(TABLE).where({ token_hash: tokenHash }).whereNull("ended_at").update({ ended_at: at }, ["token_hash"]);
    return rows.length > 0;
  }

  async endAllForOperator(operatorId: string, at: Date, keep?: string, tx?: Tx): Promise<number> {
    const q = this.db.executor(tx)(TABLE).where({ operator_id: operatorId }).whereNull("ended_at");
    if (keep !== undefined) q.whereNot({ token_hash: keep });
    const rows = await q.update({ ended_at: at }, ["token_hash"]);
    return rows.length;
  }

  async endAllOnTerminal(terminalFingerprint: string, at: Date, tx?: Tx): Promise<number> {
    const rows = await this.db
      .executor(tx)(TABLE)
      .where({ terminal_fingerprint: terminalFingerprint })
      .whereNull("ended_at")
      .update({ ended_at: at }, ["token_hash"]);
    return rows.length;
  }
}

/** Row → domain record. */
function sessionFromRow(row: Record<string, unknown>): OperatorSessionRecord {
  return {
    tokenHash: row.token_hash as string,
    operatorId: row.operator_id as string,
    terminalFingerprint: row.terminal_fingerprint as string,
    createdAt: dateFromColumn(row.created_at),
    lastSeenAt: dateFromColumn(row.last_seen_at),
    endedAt: nullableDateFromColumn(row.ended_at),
  };
}
