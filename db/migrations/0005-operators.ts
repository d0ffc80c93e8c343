import type { Migration } from "./migration.js";

/**
 * Operators, their sessions and the enrolled terminals (docs/api.md §4, §7; docs/domain.md §6).
 *
 * - operators: lockout state (failed_attempts, locked_at) is kept here so it survives restarts and is
 *   shared by every API node (告示334号 第4-4(8)). roles is a jsonb array of operator role names.
 * - operator_sessions: keyed by the SHA-256 of the bearer token, never the token; bound to the
 *   fingerprint of the client certificate the session was opened on.
 * - terminals: the client certificate each counter terminal was enrolled with, its status and its
 *   operating hours (null = the default schedule).
 */
export const operatorsMigration: Migration = {
  name: "0005-operators",
  async up(knex) {
    await knex.schema.createTable("operators", (t) => {
      t.text("operator_id").primary();
      t.text("display_name").nullable();
      t.jsonb("roles").notNullable();
      t.text("password_hash").notNullable();
      t.timestamp("password_changed_at", { useTz: true }).notNullable();
      t.boolean("must_change_password").notNullable();
      t.integer("failed_attempts").notNullable().defaultTo(0);
      t.timestamp("locked_at", { useTz: true }).nullable();
      t.boolean("active").notNullable().defaultTo(true);
      t.timestamp("created_at", { useTz: true }).notNullable();
      t.timestamp("updated_at", { useTz: true }).notNullable();
    });
    await knex.raw("alter table operators add constraint operators_roles_array_check check (jsonb_typeof(roles) = 'array')");
    await knex.raw("alter table operators add constraint operators_failed_attempts_check check (failed_attempts >= 0)");

    await knex.schema.createTable("operator_sessions", (t) => {
      t.text("token_hash").primary();
      t.text("operator_id").notNullable().references("operator_id").inTable("operators");
      t.text("terminal_fingerprint").notNullable();
      t.timestamp("created_at", { useTz: true }).notNullable();
      t.timestamp("last_seen_at", { useTz: true }).notNullable();
      t.timestamp("ended_at", { useTz: true }).nullable();
      t.index(["operator_id"], "operator_sessions_operator_idx");
      t.index(["terminal_fingerprint"], "operator_sessions_terminal_idx");
    });

    await knex.schema.createTable("terminals", (t) => {
      t.text("terminal_id").primary();
      t.text("municipality_code").nullable();
      t.text("client_cert_serial").notNullable().unique({ indexName: "terminals_client_cert_serial_key" });
      t.text("client_cert_fingerprint").notNullable();
      t.text("status").notNullable().checkIn(["active", "revoked"], "terminals_status_check");
      t.jsonb("operating_hours").nullable();
      t.timestamp("enrolled_at", { useTz: true }).notNullable();
      t.timestamp("revoked_at", { useTz: true }).nullable();
    });
  },
  async down(knex) {
    await knex.schema.dropTable("terminals");
    await knex.schema.dropTable("operator_sessions");
    await knex.schema.dropTable("operators");
  },
};
