import type { AuditPurgePort } from "../ca/records/retention-audit.js";
import type { Database } from "./database.js";

type Row = Record<string, unknown>;

/**
 * The audit log's purge (ca/records/retention-audit.ts). The append-only trigger of migration 0003 lets the
 * delete through only with `SET LOCAL ca.audit_purge = 'on'` inside the purging transaction, so no
 * other statement, session or transaction can delete entries. One transaction: the log is never seen
 * with part of the prefix gone and the cut's checkpoint not yet the anchor.
 */
export class KnexAuditPurge implements AuditPurgePort {
  constructor(private readonly db: Database) {}

  async cutBefore(cutoff: Date): Promise<{ seq: number; hash: string; count: number } | null> {
    const k = this.db.executor();
    const firstKept = (await k("audit_log").where("at", ">=", cutoff).min({ m: "seq" }).first()) as Row | undefined;
    const q = k("audit_log");
    if (firstKept?.m !== null && firstKept?.m !== undefined) q.where("seq", "<", Number(firstKept.m));
    const last = (await q.orderBy("seq", "desc").first("seq", "hash")) as Row | undefined;
    if (last === undefined) return null;
    const seq = Number(last.seq);
    const counted = (await k("audit_log").where("seq", "<=", seq).count({ n: "*" }).first()) as Row | undefined;
    return { seq, hash: String(last.hash), count: Number(counted?.n ?? 0) };
  }

  async deleteThrough(seq: number): Promise<number> {
    return this.db.transaction(async (tx) => {
      const k = this.db.executor(tx);
      await k.raw("set local ca.audit_purge = 'on'");
      // pg answers a count, knex-pglite a result object: normalise.
      const r: unknown = await k("audit_log").where("seq", "<=", seq).del();
      return typeof r === "number" ? r : Number((r as { rowCount?: number }).rowCount ?? 0);
    });
  }
}
