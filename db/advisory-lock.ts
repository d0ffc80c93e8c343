import type { Database } from "./database.js";

/**
 * Work that the nodes of a cluster must not do at the same time (e.g. find-or-generate of an HSM key:
 * PKCS#11 does not refuse a second object with the same label, so two nodes starting together would
 * both generate one). Returns a runner that holds the PostgreSQL advisory lock `name` for the duration
 * of `work`: a transaction-scoped lock, released by the commit even if the node dies (docs/cluster.md).
 * `work` must not use the database: it runs inside the lock's transaction.
 */
export function advisoryLock(db: Database, name: string): <T>(work: () => Promise<T>) => Promise<T> {
  return (work) =>
    db.transaction(async (tx) => {
      await db.executor(tx).raw("select pg_advisory_xact_lock(hashtextextended(?, 0))", [name]);
      return work();
    });
}
