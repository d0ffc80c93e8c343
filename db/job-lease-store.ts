import type { JobLease, JobLeaseStore } from "../ca/cluster/job-lease.js";
import { LeaseLostError } from "../ca/cluster/job-lease.js";
import type { Tx } from "../ca/stores.js";
import { rowsOf } from "./column-values.js";
import type { Database } from "./database.js";

/**
 * JobLeaseStore on PostgreSQL / PGlite (table job_leases, migration 0023). Every time is the
 * database's now(): nodes' clocks never decide who holds a lease.
 */
export class KnexJobLeaseStore implements JobLeaseStore {
  constructor(private readonly db: Database) {}

  async acquire(job: string, holder: string, ttlMs: number, held?: JobLease): Promise<JobLease | undefined> {
    const heldEpoch = held !== undefined && held.job === job && held.holder === holder ? held.epoch : -1;
    // One statement: racing inserts or updates of one row are serialised by PostgreSQL, which
    // re-checks the WHERE on the row the other committed, so exactly one holder gets it.
    const renewal = "l.holder = excluded.holder and l.epoch = ? and l.expires_at > now()";
    const result = await this.db.executor().raw(
      `insert into job_leases as l (job, holder, epoch, expires_at, acquired_at, renewed_at)
       values (?, ?, 1, now() + ? * interval '1 millisecond', now(), now())
       on conflict (job) do update set
         holder = excluded.holder,
         epoch = case when ${renewal} then l.epoch else l.epoch + 1 end,
         acquired_at = case when ${renewal} then l.acquired_at else now() end,
         expires_at = excluded.expires_at,
         renewed_at = now()
       where l.holder = excluded.holder or l.expires_at <= now()
       returning epoch`,
      [job, holder, ttlMs, heldEpoch, heldEpoch],
    );
    const row = rowsOf(result)[0];
    return row === undefined ? undefined : { job, holder, epoch: Number(row.epoch) };
  }

  async release(lease: JobLease): Promise<void> {
    await this.db
      .executor()("job_leases")
      .where({ job: lease.job, holder: lease.holder, epoch: lease.epoch })
      .update({ expires_at: this.db.knex.fn.now() });
  }

  async fence(lease: JobLease, tx: Tx): Promise<void> {
    const k = this.db.executor(tx);
    const row = (await k("job_leases")
      .where({ job: lease.job, holder: lease.holder, epoch: lease.epoch })
      .andWhere("expires_at", ">", k.fn.now())
      .forShare()
      .first("epoch")) as { epoch: unknown } | undefined;
    if (row === undefined) throw new LeaseLostError(lease.job);
  }
}
