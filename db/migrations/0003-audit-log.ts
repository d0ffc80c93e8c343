import type { Migration } from "./migration.js";

/**
 * The append-only audit log and its hash chain (ca/audit/audit-chain.ts), kept 7 years (docs/domain.md §7).
 *
 * `audit_head` holds the last seq and hash in one row; AuditStore.append locks it with
 * `SELECT … FOR UPDATE`, which serialises appends across connections and processes, so the chain
 * never forks.
 *
 * A trigger refuses UPDATE, DELETE and TRUNCATE on audit_log unless the session (or transaction) has
 * set `ca.audit_purge = 'on'` (`SET LOCAL ca.audit_purge = 'on'` inside the purging transaction).
 * This guards against mistakes, not against a database superuser: in production also grant the
 * application role only INSERT and SELECT on audit_log.
 */
export const auditLogMigration: Migration = {
  name: "0003-audit-log",
  async up(knex) {
    await knex.schema.createTable("audit_log", (t) => {
      t.bigInteger("seq").primary();
      t.timestamp("at", { useTz: true }).notNullable();
      t.text("action").notNullable();
      t.text("actor").notNullable();
      t.text("subject").nullable();
      t.text("outcome").notNullable().checkIn(["success", "failure", "denied"], "audit_log_outcome_check");
      t.jsonb("detail").notNullable();
      t.text("prev_hash").notNullable();
      t.text("hash").notNullable();
      t.index(["at"], "audit_log_at_idx"); // GET /v1/admin/audit?from=&to=
    });
    await knex.schema.createTable("audit_head", (t) => {
      t.smallint("id").primary();
      t.bigInteger("seq").notNullable();
      t.text("hash").notNullable();
    });
    await knex.raw("alter table audit_head add constraint audit_head_single_row_check check (id = 1)");
    await knex("audit_head").insert({ id: 1, seq: 0, hash: "0".repeat(64) }); // GENESIS_PREV_HASH
    await knex.raw(`
      create function audit_log_append_only() returns trigger language plpgsql as $$
      begin
        if coalesce(current_setting('ca.audit_purge', true), '') = 'on' then
          if tg_op = 'UPDATE' then return new; end if;
          return old;
        end if;
        raise exception 'audit_log is append-only: % refused (set ca.audit_purge = on to purge)', tg_op
          using errcode = 'P0001';
      end
      $$`);
    await knex.raw(`create trigger audit_log_append_only_rows before update or delete on audit_log
      for each row execute function audit_log_append_only()`);
    await knex.raw(`create trigger audit_log_append_only_truncate before truncate on audit_log
      for each statement execute function audit_log_append_only()`);
  },
  async down(knex) {
    await knex.schema.dropTable("audit_head");
    await knex.schema.dropTable("audit_log");
    await knex.raw("drop function audit_log_append_only()");
  },
};
