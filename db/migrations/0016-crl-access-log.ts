import type { Migration } from "./migration.js";

/**
 * CRL reads of registered relying parties (docs/api.md §3: every answered request is recorded — party,
 * what was read, when), the CRL counterpart of `ocsp_access_log`: which party read which partition's
 * full or delta CRL, and its CRL number. Written in batches (ocsp/access-recorder.ts), purged by the
 * relying-party access retention task.
 */
export const crlAccessLogMigration: Migration = {
  name: "0016-crl-access-log",
  async up(knex) {
    await knex.schema.createTable("crl_access_log", (t) => {
      t.bigIncrements("id");
      t.timestamp("at", { useTz: true }).notNullable();
      t.text("party").notNullable();
      t.text("ca_id").notNullable();
      t.integer("partition").notNullable();
      t.text("kind").notNullable(); // full | delta
      t.bigInteger("crl_number").notNullable();
      t.index(["party", "at"], "crl_access_log_party_at_idx"); // billing, "what did party P read"
      t.index(["at"], "crl_access_log_at_idx"); // retention
    });
  },
  async down(knex) {
    await knex.schema.dropTable("crl_access_log");
  },
};
