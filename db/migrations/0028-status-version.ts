import type { Migration } from "./migration.js";

/**
 * Lifting a phone user-auth hold (issue #16 item 1, ca/revocation/revocation-service.ts `liftPhoneHold`):
 *
 * - `certificates.status_version`: raised by every status change that does not raise the status rank
 *   (valid 1 < hold 2 < revoked 3, ca/revocation/ocsp-ports.ts) — today only a lift, hold → valid. OCSP
 *   orders what it stores and caches by (status_version, rank, thisUpdate): a lift wins over the hold it
 *   lifts, an older "good" never beats a hold, and a revocation after a lift still wins. Transitions
 *   that raise the rank leave it alone, so the hot revocation path writes nothing more.
 * - `certificates.released_at`: when the last lift happened; a delta CRL issued after it lists the
 *   certificate with reason removeFromCRL (RFC 5280 §5.3.1, crl/released-entries.ts), read through the
 *   partial index `certificates_released_idx` (rows ever lifted only: it costs nothing on the others).
 * - `ocsp_responses.status_version`: the version of the certificate row the response was made from.
 *
 * Both defaults fill existing rows without a rewrite of the tables (PostgreSQL 11+, PGlite).
 */
export const statusVersionMigration: Migration = {
  name: "0028-status-version",
  async up(knex) {
    await knex.raw("alter table certificates add column status_version integer not null default 0");
    await knex.raw("alter table certificates add column released_at timestamptz null");
    // Delta CRLs read the lifts of a partition since their base (by updated_at, DB time, as the revoked
    // entries): only rows ever lifted are indexed.
    await knex.raw("create index certificates_released_idx on certificates (ca_id, partition, updated_at) where released_at is not null");
    await knex.raw("alter table ocsp_responses add column status_version integer not null default 0");
  },
  async down(knex) {
    await knex.raw("alter table ocsp_responses drop column if exists status_version");
    await knex.raw("drop index if exists certificates_released_idx");
    await knex.raw("alter table certificates drop column if exists released_at");
    await knex.raw("alter table certificates drop column if exists status_version");
  },
};
