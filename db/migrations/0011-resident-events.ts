import type { Migration } from "./migration.js";

/**
 * Resident change events (docs/api.md §5, docs/design.md invariant 4) and the history of the CA's copy of the
 * resident record (docs/domain.md §3):
 * - residents gains the register status and, per field group, the version of the event that set it
 *   (an older event never overwrites a newer value);
 * - resident_history keeps superseded versions until the retention period ends (purge job);
 * - resident_events keeps every event received, with its outcome: the unique event_key makes each
 *   event apply once on every transport; rejected and deferred events stay for replay;
 * - event_safety_valve is the one shared row of the rate breaker (halted or running).
 */
export const residentEventsMigration: Migration = {
  name: "0011-resident-events",
  async up(knex) {
    await knex.schema.alterTable("residents", (t) => {
      t.text("status").notNullable().defaultTo("registered");
      t.jsonb("field_versions").notNullable().defaultTo("{}");
    });
    await knex.raw(
      "alter table residents add constraint residents_status_check check (status in ('registered','deceased','removed','emigrated'))",
    );

    await knex.schema.createTable("resident_history", (t) => {
      t.bigIncrements("id");
      t.text("resident_code").notNullable();
      t.text("name").notNullable();
      t.text("name_substitute_flags").notNullable();
      t.text("alias").nullable();
      t.text("alias_substitute_flags").nullable();
      t.text("date_of_birth").notNullable();
      t.smallint("gender").notNullable();
      t.text("address").notNullable();
      t.text("address_substitute_flags").notNullable();
      t.text("status").notNullable();
      t.timestamp("valid_from", { useTz: true }).notNullable();
      t.timestamp("superseded_at", { useTz: true }).notNullable();
      t.text("superseded_by").notNullable();
      t.index(["resident_code", "id"], "resident_history_resident_idx");
      t.index(["superseded_at"], "resident_history_superseded_at_idx"); // purge after retention
    });

    await knex.schema.createTable("resident_events", (t) => {
      t.bigIncrements("seq");
      t.text("event_key").notNullable().unique("resident_events_event_key_key");
      t.text("event_id").nullable();
      t.text("resident_code").nullable();
      t.text("type").nullable();
      t.text("effective_date").nullable();
      t.jsonb("payload").nullable();
      t.text("raw").nullable();
      t.integer("raw_size").notNullable();
      t.text("transport").notNullable().checkIn(["http", "nats", "file", "replay"], "resident_events_transport_check");
      t.text("source").nullable();
      t.text("outcome").notNullable().checkIn(["applied", "rejected", "deferred"], "resident_events_outcome_check");
      t.text("reason").nullable();
      t.jsonb("revoked").notNullable().defaultTo("[]");
      t.integer("revoked_count").notNullable().defaultTo(0);
      t.integer("attempts").notNullable().defaultTo(1);
      t.timestamp("received_at", { useTz: true }).notNullable();
      t.timestamp("processed_at", { useTz: true }).nullable();
      t.index(["resident_code"], "resident_events_resident_code_idx"); // disclosure (docs/domain.md §6)
    });
    // Operators list rejected and deferred events; resume drains deferred ones in arrival order.
    await knex.raw("create index resident_events_pending_idx on resident_events (outcome, seq) where outcome <> 'applied'");
    // The rate breaker sums revocations applied within its window.
    await knex.raw("create index resident_events_breaker_idx on resident_events (processed_at) where outcome = 'applied' and revoked_count > 0");

    await knex.schema.createTable("event_safety_valve", (t) => {
      t.integer("id").primary();
      t.boolean("halted").notNullable().defaultTo(false);
      t.timestamp("halted_at", { useTz: true }).nullable();
      t.text("halt_reason").nullable();
      t.timestamp("resumed_at", { useTz: true }).nullable();
      t.text("resumed_by").nullable();
    });
    await knex.raw("alter table event_safety_valve add constraint event_safety_valve_one_row check (id = 1)");
    await knex("event_safety_valve").insert({ id: 1, halted: false });
  },
  async down(knex) {
    await knex.schema.dropTable("event_safety_valve");
    await knex.schema.dropTable("resident_events");
    await knex.schema.dropTable("resident_history");
    await knex.raw("alter table residents drop constraint residents_status_check");
    await knex.schema.alterTable("residents", (t) => {
      t.dropColumn("field_versions");
      t.dropColumn("status");
    });
  },
};
