import type { Migration } from "./migration.js";

/** Registered relying parties (ca/relying-parties/relying-party.ts): API keys stored as SHA-256 only. */
export const relyingPartiesMigration: Migration = {
  name: "0010-relying-parties",
  async up(knex) {
    await knex.schema.createTable("relying_parties", (t) => {
      t.text("id").primary();
      t.text("name").notNullable();
      t.boolean("active").notNullable().defaultTo(true);
      t.text("api_key_sha256").nullable().unique();
      t.timestamp("created_at", { useTz: true }).notNullable();
    });
  },
  async down(knex) {
    await knex.schema.dropTable("relying_parties");
  },
};
