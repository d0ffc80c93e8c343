import type { LoginAttemptStore } from "../ca/operators/login-throttle.js";
import type { Database } from "./database.js";

const TABLE = "login_attempts";

/**
 * LoginAttemptStore on PostgreSQL / PGlite (table login_attempts, migration 0018): one upsert that adds
 * one to each key's counter of the window, shared by every API node.
 */
export class KnexLoginAttemptStore implements LoginAttemptStore {
  constructor(private readonly db: Database) {}

  async hit(keys: readonly string[], windowStart: Date): Promise<number[]> {
    if (keys.length === 0) return [];
    const k = this.db.executor();
    const rows = (await k(TABLE)
      .insert(keys.map((key) => ({ key, window_start: windowStart, attempts: 1 })))
      .onConflict(["key", "window_start"])
      .merge({ attempts: k.raw(`${TABLE}.attempts + 1`) })
      .returning(["key", "attempts"])) as Array<{ key: string; attempts: number | string }>;
    const byKey = new Map(rows.map((r) => [r.key, Number(r.attempts)]));
    return keys.map((key) => byKey.get(key) ?? 0);
  }

  async release(keys: readonly string[], windowStart: Date): Promise<void> {
    if (keys.length === 0) return;
    await this.db.executor()(TABLE).whereIn("key", [...keys]).andWhere({ window_start: windowStart }).andWhere("attempts", ">", 0).decrement("attempts", 1);
  }

  async purge(before: Date): Promise<number> {
    const r: unknown = await this.db.executor()(TABLE).where("window_start", "<", before).delete();
    // pg answers the count; knex-pglite the driver's result object.
    if (typeof r === "number") return r;
    const o = r as { rowCount?: number; affectedRows?: number };
    return Number(o.rowCount ?? o.affectedRows ?? 0);
  }
}
