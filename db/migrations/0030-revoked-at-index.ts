import type { Migration } from "./migration.js";

/**
 * `certificates_revoked_at_idx`: the revoked and held certificates by revocation time, for the operator
 * console's revocations per day (db/dashboard-source.ts, issue 17). Without it that count scanned the whole
 * table — 200 M rows at national size (docs/scale.md). Partial: only the ~10 % of rows with a
 * revocation time. Like every index of certificates, build it in a maintenance window on a large table.
 */
export const revokedAtIndexMigration: Migration = {
  name: "0030-revoked-at-index",
  async up(knex) {
    await knex.raw("create index certificates_revoked_at_idx on certificates (revoked_at) where revoked_at is not null");
  },
  async down(knex) {
    await knex.raw("drop index certificates_revoked_at_idx");
  },
};
