import type { Migration } from "./migration.js";

/**
 * Admin controls (docs/api.md §7, docs/domain.md §6):
 * - approvals: four-eyes requests (ca/approvals/approval.ts) with their state, parameters and result;
 * - audit_checkpoints: HSM-signed (seq, hash) of audit entries (ca/audit/audit-checkpoint.ts), the anchor
 *   the chain is verified from after a retention cut;
 * - residents (name, date_of_birth): the exact-match inquiry by name + date of birth (ca/records/inquiry.ts);
 * - issuances (created_at, issuance_id): keyset pages of the bulk export;
 * - certificates.personal_data_purged_at: when the personal fields were stripped, 10 years after
 *   expiry (ca/records/retention.ts), with an index on the expiry of rows still holding them.
 */
export const adminControlsMigration: Migration = {
  name: "0013-admin-controls",
  async up(knex) {
    await knex.schema.createTable("approvals", (t) => {
      t.text("id").primary();
      t.text("kind").notNullable();
      t.text("status").notNullable()
        .checkIn(["pending", "approved", "executed", "failed", "rejected", "expired"], "approvals_status_check");
      t.text("requested_by").notNullable();
      t.timestamp("requested_at", { useTz: true }).notNullable();
      t.timestamp("expires_at", { useTz: true }).notNullable();
      t.jsonb("params").notNullable();
      t.text("decided_by").nullable();
      t.timestamp("decided_at", { useTz: true }).nullable();
      t.timestamp("executed_at", { useTz: true }).nullable();
      t.jsonb("result").nullable();
      t.text("failure").nullable();
      t.timestamp("consumed_at", { useTz: true }).nullable();
      t.index(["requested_at"], "approvals_requested_at_idx");
    });
    // The expiry sweep looks at pending rows only.
    await knex.raw("create index approvals_pending_expires_idx on approvals (expires_at) where status = 'pending'");

    await knex.schema.createTable("audit_checkpoints", (t) => {
      t.bigIncrements("id");
      t.bigInteger("seq").notNullable();
      t.text("hash").notNullable();
      t.timestamp("at", { useTz: true }).notNullable();
      t.text("kind").notNullable().checkIn(["periodic", "manual", "purge-cut"], "audit_checkpoints_kind_check");
      t.text("key_label").notNullable();
      t.text("algorithm").notNullable();
      t.binary("public_key").notNullable();
      t.binary("signature").notNullable();
      t.index(["seq"], "audit_checkpoints_seq_idx");
    });

    await knex.raw("create index residents_name_date_of_birth_idx on residents (name, date_of_birth)");
    await knex.raw("create index issuances_created_at_idx on issuances (created_at, issuance_id)");
    await knex.schema.alterTable("certificates", (t) => {
      t.timestamp("personal_data_purged_at", { useTz: true }).nullable();
    });
    await knex.raw("create index certificates_personal_data_expiry_idx on certificates (not_after) where personal_data_purged_at is null");
  },
  async down(knex) {
    await knex.raw("drop index certificates_personal_data_expiry_idx");
    await knex.schema.alterTable("certificates", (t) => {
      t.dropColumn("personal_data_purged_at");
    });
    await knex.raw("drop index issuances_created_at_idx");
    await knex.raw("drop index residents_name_date_of_birth_idx");
    await knex.schema.dropTable("audit_checkpoints");
    await knex.schema.dropTable("approvals");
  },
};
