import type { RevocationWindowStore } from "../ca/revocation/revocation-window.js";
import type { Tx } from "../ca/stores.js";
import { rowsOf } from "./column-values.js";
import type { Database } from "./database.js";

/**
 * The per-operator revocation window (ca/revocation/revocation-window.ts) counted from the audit log: one
 * `certificate.revoked` entry per certificate, one `certificate.held` entry per card with its serials.
 * Entries with an `approvalId` were approved by a second operator and do not count. The partial index
 * audit_log (actor, at) of migration 0017 keeps this to the operator's own entries of the window.
 *
 * Inside a transaction, a transaction-scoped advisory lock per actor comes first: two concurrent
 * revocations by one operator on two nodes are counted one after the other, so both cannot pass at 10.
 */
export class KnexRevocationWindowStore implements RevocationWindowStore {
  constructor(private readonly db: Database) {}

  async lockAndCount(actor: string, since: Date, tx?: Tx): Promise<number> {
    const k = this.db.executor(tx);
    if (tx !== undefined) await k.raw("select pg_advisory_xact_lock(hashtextextended(?, 0))", [`revocation-window:${actor}`]);
    const rows = rowsOf(
      await k.raw(
        `select coalesce(sum(case when action = 'certificate.held' then jsonb_array_length(coalesce(detail->'serials', '[]'::jsonb)) else 1 end), 0)::int as n
         from audit_log
         where actor = ? and at >= ? and action in ('certificate.revoked', 'certificate.held') and detail->>'approvalId' is null`,
        [actor, since],
      ),
    );
    return Number(rows[0]?.n ?? 0);
  }
}
