import type { Migration } from "./migration.js";

/**
 * certificates.issuance_id: the certificates of one issuance (`listByIssuance`), read when a pending
 * issuance is finished by a retry or by the reconciler. Without it each such read scans the table,
 * which holds tens of millions of rows in a national CA.
 */
export const certificatesIssuanceIndexMigration: Migration = {
  name: "0014-certificates-issuance-index",
  async up(knex) {
    await knex.raw("create index certificates_issuance_id_idx on certificates (issuance_id)");
  },
  async down(knex) {
    await knex.raw("drop index if exists certificates_issuance_id_idx");
  },
};
