import type { Migration } from "./migration.js";

/**
 * OCSP (ocsp/, db/ocsp-store.ts):
 * - `ocsp_responses`: the pre-signed response of each certificate, one per CertID hash algorithm
 *   (SHA-1 made at issuance; SHA-256 once a client asks for it), served as stored. `status_rank`
 *   keeps an older status from overwriting a newer one; `seq` (from a sequence, renewed on every
 *   write) lets each responder process pick up what others wrote.
 * - `ocsp_access_log`: one row per certificate asked about by a registered relying party
 *   (docs/api.md §3), written in batches.
 */
export const ocspMigration: Migration = {
  name: "0009-ocsp",
  async up(knex) {
    await knex.raw("create sequence ocsp_responses_seq");
    await knex.schema.createTable("ocsp_responses", (t) => {
      t.text("serial").notNullable();
      t.text("hash_algorithm").notNullable().checkIn(["sha1", "sha256"], "ocsp_responses_hash_algorithm_check");
      t.text("ca_id").notNullable().references("id").inTable("ca_generations").withKeyName("ocsp_responses_ca_id_fkey");
      t.binary("der").notNullable();
      t.text("cert_status").notNullable().checkIn(["good", "revoked", "unknown"], "ocsp_responses_cert_status_check");
      t.smallint("status_rank").notNullable();
      t.timestamp("revoked_at", { useTz: true }).nullable();
      t.text("revocation_reason").nullable();
      t.timestamp("this_update", { useTz: true }).notNullable();
      t.timestamp("next_update", { useTz: true }).notNullable();
      t.timestamp("produced_at", { useTz: true }).notNullable();
      t.bigInteger("seq").notNullable().defaultTo(knex.raw("nextval('ocsp_responses_seq')"));
      t.primary(["serial", "hash_algorithm"], { constraintName: "ocsp_responses_pkey" });
      t.index(["this_update"], "ocsp_responses_this_update_idx"); // refresh at half-life, oldest first
      t.index(["seq"], "ocsp_responses_seq_idx"); // followers
    });
    await knex.schema.createTable("ocsp_access_log", (t) => {
      t.bigIncrements("id");
      t.timestamp("at", { useTz: true }).notNullable();
      t.text("party").notNullable();
      t.text("serial").nullable();
      t.text("ca_id").nullable();
      t.text("answer").notNullable();
      t.index(["party", "at"], "ocsp_access_log_party_at_idx"); // billing, "what did party P ask"
      t.index(["serial", "at"], "ocsp_access_log_serial_at_idx"); // disclosure: "who asked about my certificate"
    });
  },
  async down(knex) {
    await knex.schema.dropTable("ocsp_access_log");
    await knex.schema.dropTable("ocsp_responses");
    await knex.raw("drop sequence ocsp_responses_seq");
  },
};
