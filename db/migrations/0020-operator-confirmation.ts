import type { Migration } from "./migration.js";

/**
 * Four-eyes that no single person can satisfy alone (issue 12; 告示334号 第2-3(1), 第4-8(2)):
 *
 * - operators.confirmed_by / confirmed_at: the second security officer who confirmed the account's
 *   current roles (the approval of its creation or role grant), "cli" / "cli:init" for the break-glass
 *   path on the CA host, or null — an unconfirmed account approves nothing (ca/approvals/approval-engine.ts).
 *   Accounts that exist before this migration are marked `migration-0020`: they were made under the old
 *   rule, so a security officer reviews them (`GET /v1/admin/operators` shows confirmedBy) — see
 *   docs/admin.md.
 * - operators.sponsors: operator ids who requested a change to the account (creation, role grant,
 *   password reset); none of them may ever approve a request made by, or about, that account.
 * - approvals.handover: the requester's half of a one-time password produced when an approval ran
 *   (split knowledge: the approver gets the other half in the approve answer, never stored), cleared
 *   when the requester collects it.
 */
export const operatorConfirmationMigration: Migration = {
  name: "0020-operator-confirmation",
  async up(knex) {
    await knex.schema.alterTable("operators", (t) => {
      t.text("confirmed_by").nullable();
      t.timestamp("confirmed_at", { useTz: true }).nullable();
      t.jsonb("sponsors").notNullable().defaultTo(knex.raw("'[]'::jsonb"));
    });
    await knex.raw("alter table operators add constraint operators_sponsors_array_check check (jsonb_typeof(sponsors) = 'array')");
    await knex.raw("alter table operators add constraint operators_confirmed_pair_check check ((confirmed_by is null) = (confirmed_at is null))");
    await knex.raw("update operators set confirmed_by = 'migration-0020', confirmed_at = updated_at");
    await knex.schema.alterTable("approvals", (t) => {
      t.text("handover").nullable();
    });
  },
  async down(knex) {
    await knex.schema.alterTable("approvals", (t) => {
      t.dropColumn("handover");
    });
    await knex.raw("alter table operators drop constraint operators_confirmed_pair_check");
    await knex.raw("alter table operators drop constraint operators_sponsors_array_check");
    await knex.schema.alterTable("operators", (t) => {
      t.dropColumn("sponsors");
      t.dropColumn("confirmed_at");
      t.dropColumn("confirmed_by");
    });
  },
};
