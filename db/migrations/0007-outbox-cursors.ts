import type { Migration } from "./migration.js";

/** One cursor per outbox consumer (ca/revocation/outbox.ts OutboxReader): several consumers see every message. */
export const outboxCursorsMigration: Migration = {
  name: "0007-outbox-cursors",
  async up(knex) {
    await knex.schema.createTable("outbox_cursors", (t) => {
      t.text("consumer").primary();
      t.bigInteger("last_id").notNullable().defaultTo(0);
      t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    });
  },
  async down(knex) {
    await knex.schema.dropTable("outbox_cursors");
  },
};
