import type { Migration } from "./migration.js";

/** CA generations: one HSM key and self-signed certificate each (docs/domain.md §4, docs/design.md invariant 2). */
export const caGenerationsMigration: Migration = {
  name: "0001-ca-generations",
  async up(knex) {
    await knex.schema.createTable("ca_generations", (t) => {
      t.text("id").primary(); // 'sign-g1'
      t.text("kind").notNullable().checkIn(["sign", "auth"], "ca_generations_kind_check");
      t.integer("generation").notNullable().checkPositive("ca_generations_generation_check");
      t.text("key_algorithm").notNullable();
      t.text("signature_algorithm").notNullable();
      t.text("key_uri").notNullable(); // RFC 7512 pkcs11: URI
      t.binary("certificate").notNullable();
      // Invariant 2: the first serial byte names the generation; unique across all CAs.
      t.integer("serial_prefix").notNullable().unique({ indexName: "ca_generations_serial_prefix_key" })
        .checkBetween([0, 255], "ca_generations_serial_prefix_check");
      // docs/domain.md §4: fixed at creation, never changes.
      t.integer("partition_count").notNullable().checkPositive("ca_generations_partition_count_check");
      t.text("status").notNullable().checkIn(["active", "retired"], "ca_generations_status_check");
      t.binary("ocsp_responder_certificate").nullable();
      t.text("ocsp_responder_key_uri").nullable();
      t.timestamp("created_at", { useTz: true }).notNullable();
      t.unique(["kind", "generation"], { indexName: "ca_generations_kind_generation_key" });
    });
  },
  async down(knex) {
    await knex.schema.dropTable("ca_generations");
  },
};
