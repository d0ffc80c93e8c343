import type { Migration } from "./migration.js";

/**
 * Reads by time that scanned whole tables at national size (docs/scale.md), found with the operator
 * console's dashboard (db/dashboard-source.ts, issue 17):
 * - `certificates_revoked_at_idx`: revoked and held certificates by revocation time (revocations per
 *   day). Partial: only the ~10 % of rows with a revocation time. Like every index of certificates,
 *   build it in a maintenance window on a large table.
 * - `ocsp_access_log_at_brin`: the OCSP access log by time (answers in the last minute; the retention
 *   purge by age, db/retention-standard-tasks.ts). The log is appended in time order at up to 10^8 rows
 *   a day: a BRIN index (a few pages per million rows, next to nothing per insert) instead of a b-tree.
 */
export const timeIndexesMigration: Migration = {
  name: "0030-time-indexes",
  async up(knex) {
    await knex.raw("create index certificates_revoked_at_idx on certificates (revoked_at) where revoked_at is not null");
    await knex.raw("create index ocsp_access_log_at_brin on ocsp_access_log using brin (at)");
  },
  async down(knex) {
    await knex.raw("drop index ocsp_access_log_at_brin");
    await knex.raw("drop index certificates_revoked_at_idx");
  },
};
