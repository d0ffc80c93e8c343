import type { Migration } from "./migration.js";

/**
 * Issuance records (Idempotency-Key scope and the stored answer) and the CA's copy of the resident
 * record (docs/domain.md §3: 機構保存本人確認情報). Personal fields live here and in certificates.recorded only.
 */
export const issuancesMigration: Migration = {
  name: "0006-issuances",
  async up(knex) {
    await knex.schema.createTable("issuances", (t) => {
      t.text("issuance_id").primary();
      t.text("terminal_id").notNullable();
      t.text("idempotency_key").notNullable();
      t.text("request_sha256").notNullable();
      t.text("operator_id").notNullable();
      t.text("municipality_code").notNullable();
      t.text("application_date").notNullable(); // ISO date as text: pg turns `date` into a local-midnight Date
      t.text("resident_code").notNullable();
      t.text("status").notNullable();
      t.jsonb("response").nullable();
      t.timestamp("created_at", { useTz: true }).notNullable();
      t.timestamp("completed_at", { useTz: true }).nullable();
      t.unique(["terminal_id", "idempotency_key"]);
      t.index(["resident_code"]);
    });
    await knex.raw("alter table issuances add constraint issuances_status_check check (status in ('pending','completed','failed'))");
    await knex.schema.createTable("residents", (t) => {
      t.text("resident_code").primary();
      t.text("name").notNullable();
      t.text("name_substitute_flags").notNullable();
      t.text("alias").nullable();
      t.text("alias_substitute_flags").nullable();
      t.text("date_of_birth").notNullable();
      t.smallint("gender").notNullable();
      t.text("address").notNullable();
      t.text("address_substitute_flags").notNullable();
      t.timestamp("created_at", { useTz: true }).notNullable();
      t.timestamp("updated_at", { useTz: true }).notNullable();
    });
  },
  async down(knex) {
    await knex.schema.dropTable("residents");
    await knex.schema.dropTable("issuances");
  },
};
