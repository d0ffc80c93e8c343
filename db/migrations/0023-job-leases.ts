import type { Migration } from "./migration.js";

/**
 * Leadership per background job (docs/cluster.md): one row per singleton job, held by one process at
 * a time (ca/cluster/lease-keeper.ts, db/job-lease-store.ts).
 *
 * - `holder`: the process holding it (host:pid:random, no personal data).
 * - `epoch`: grows on every new acquisition; a job's transactions check it (the fence), so a process
 *   whose lease moved on commits nothing.
 * - `expires_at`: on the database's clock (now() + TTL), never a node's; renewed while held.
 * - `acquired_at`, `renewed_at`: for operators (who holds what since when).
 */
export const jobLeasesMigration: Migration = {
  name: "0023-job-leases",
  async up(knex) {
    await knex.raw(`create table job_leases (
      job text primary key,
      holder text not null,
      epoch bigint not null,
      expires_at timestamptz not null,
      acquired_at timestamptz,
      renewed_at timestamptz
    )`);
  },
  async down(knex) {
    await knex.raw("drop table job_leases");
  },
};
