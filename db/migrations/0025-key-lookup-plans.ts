import type { Migration } from "./migration.js";

/**
 * The key-reuse trigger of migration 0019 (certificates_refuse_used_key) looks each new row's key up in
 * blocked_keys and among the revoked certificates. PL/pgSQL plans those lookups once per session and
 * keeps the plan: made while certificates is empty or never analyzed, it was a sequential scan, or a
 * scan of certificates_status_created_at_idx for status = 'revoked' filtered by key — every revoked row
 * once per inserted row. A bulk insert (a migration from another system, a restore, the scale
 * benchmark's seeder with triggers on) went quadratic: 10,000 then 20,000 revoked rows took 5.6 s and
 * 55.8 s on a fresh database; with this migration 0.5 s and 2.2 s, and 100,000 more 6.2 s (docs/scale.md).
 *
 * - `certificates_revoked_public_key_idx`: the revoked certificates by key, exactly the trigger's lookup
 *   (about a tenth of the rows);
 * - the function never chooses a sequential scan, whatever the statistics say when it is planned.
 *
 * On a large table the index build holds off inserts for its duration (about a minute per 20 million
 * revoked rows): run it in a maintenance window, as every migration of certificates.
 */
export const keyLookupPlansMigration: Migration = {
  name: "0025-key-lookup-plans",
  async up(knex) {
    await knex.raw("create index certificates_revoked_public_key_idx on certificates (public_key_sha256) where status = 'revoked'");
    await knex.raw("alter function certificates_refuse_used_key() set enable_seqscan = off");
  },
  async down(knex) {
    await knex.raw("alter function certificates_refuse_used_key() reset enable_seqscan");
    await knex.raw("drop index certificates_revoked_public_key_idx");
  },
};
