import type { Migration } from "./migration.js";

/**
 * Resident events at feed rates (issue 4: ≥ 5,000 events/s), after 0011:
 * - the rate breaker counts revocations per 10-second bucket (event_revocation_counts: it sums ≤ 60
 *   rows whatever the rate) instead of summing resident_events over its window, so the partial index
 *   on resident_events.processed_at goes (revoked_count stays, written with each row);
 * - resident_history.superseded_at gets a BRIN index instead of a b-tree: rows arrive in that order,
 *   and the purge finds old ones for almost no cost per insert;
 * - residents keeps free room on each page (fillfactor 80), so events update records in place (HOT)
 *   without a new primary-key entry per update.
 */
export const residentEventThroughputMigration: Migration = {
  name: "0012-resident-event-throughput",
  async up(knex) {
    await knex.schema.createTable("event_revocation_counts", (t) => {
      t.timestamp("bucket", { useTz: true }).primary();
      t.integer("revocations").notNullable();
    });
    await knex.raw("drop index resident_events_breaker_idx");
    await knex.raw("drop index resident_history_superseded_at_idx");
    await knex.raw("create index resident_history_superseded_at_idx on resident_history using brin (superseded_at)");
    await knex.raw("alter table residents set (fillfactor = 80)");
  },
  async down(knex) {
    await knex.raw("alter table residents reset (fillfactor)");
    await knex.raw("drop index resident_history_superseded_at_idx");
    await knex.raw("create index resident_history_superseded_at_idx on resident_history (superseded_at)");
    await knex.raw("create index resident_events_breaker_idx on resident_events (processed_at) where outcome = 'applied' and revoked_count > 0");
    await knex.schema.dropTable("event_revocation_counts");
  },
};
