import type { Migration } from "./migration.js";

/**
 * The transactional outbox (docs/design.md invariant 3): a revocation writes its status change, audit entry
 * and an outbox row in one transaction; CRL and OCSP workers consume rows later
 * (`FOR UPDATE SKIP LOCKED`) and set processed_at.
 */
export const outboxMigration: Migration = {
  name: "0004-outbox",
  async up(knex) {
    await knex.schema.createTable("outbox", (t) => {
      t.bigIncrements("id");
      t.text("topic").notNullable();
      t.jsonb("payload").notNullable();
      t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.timestamp("processed_at", { useTz: true }).nullable();
    });
    await knex.raw("create index outbox_unprocessed_idx on outbox (topic, id) where processed_at is null");
  },
  async down(knex) {
    await knex.schema.dropTable("outbox");
  },
};
