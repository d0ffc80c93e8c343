import type { Migration } from "./migration.js";

/**
 * Relying parties grow up (issue 16 items 3–4, docs/relying-parties.md):
 *
 * - `relying_parties.verifier_types` (jsonb array of `signing`, `user-auth`, `platform`),
 *   `environment` (`test` | `production`) and `platform_id` (a service provider's platform operator,
 *   施行規則29条). Existing parties become `signing` + `user-auth`, `production`: until now every
 *   registered party read the revocation data of both kinds of certificates (CRL and OCSP of both CAs)
 *   from this service, which was the production one, so that is exactly what they were registered for;
 *   narrowing a party is the CA operator's decision, not the migration's. A test party is registered as
 *   such from now on.
 * - `consents`: a resident's consent to a named party for a scope of queries, granted and withdrawn by
 *   requests signed with the card's user-auth key. One row per grant; a withdrawal closes it (the
 *   history stays for the disclosure report). At most one open consent per resident and party
 *   (`consents_open_uq`, a partial unique index).
 * - `relying_party_provisions`: every answer a query gave (party, on whose behalf, query, serials,
 *   resident, when), written in the answer's transaction: the record of 告示334号 第6-8(5) disclosures.
 * - `relying_party_query_windows`: the per-party query counter of each window, one row per party and
 *   window, shared by every node (docs/cluster.md "Nodes are interchangeable").
 */
export const relyingPartyTypesMigration: Migration = {
  name: "0029-relying-party-types",
  async up(knex) {
    await knex.raw(`alter table relying_parties add column verifier_types jsonb not null default '["signing","user-auth"]'::jsonb`);
    await knex.raw("alter table relying_parties add column environment text not null default 'production'");
    await knex.raw("alter table relying_parties add constraint relying_parties_environment_check check (environment in ('test', 'production'))");
    await knex.raw("alter table relying_parties add column platform_id text null references relying_parties(id)");
    await knex.raw("alter table relying_parties add constraint relying_parties_platform_check check (platform_id is null or platform_id <> id)");

    await knex.schema.createTable("consents", (t) => {
      t.bigIncrements("id");
      t.text("resident_code").notNullable();
      t.text("party_id").notNullable().references("id").inTable("relying_parties").withKeyName("consents_party_fkey");
      t.jsonb("scope").notNullable();
      t.timestamp("granted_at", { useTz: true }).notNullable();
      /** The card user-auth certificate that signed the grant. */
      t.text("granted_with").notNullable();
      t.timestamp("withdrawn_at", { useTz: true }).nullable();
      t.text("withdrawn_with").nullable();
      t.index(["resident_code", "party_id"], "consents_resident_party_idx");
    });
    await knex.raw("create unique index consents_open_uq on consents (resident_code, party_id) where withdrawn_at is null");
    // Retention (db/retention-standard-tasks.ts): withdrawn consents and old provisions are purged by age.
    await knex.raw("create index consents_withdrawn_at_idx on consents (withdrawn_at) where withdrawn_at is not null");

    await knex.schema.createTable("relying_party_provisions", (t) => {
      t.bigIncrements("id");
      t.timestamp("at", { useTz: true }).notNullable();
      t.text("party_id").notNullable();
      t.text("on_behalf_of").nullable();
      t.text("query").notNullable();
      t.text("resident_code").notNullable();
      t.text("asked_serial").notNullable();
      t.jsonb("answered_serials").notNullable();
      t.index(["resident_code", "at"], "relying_party_provisions_resident_idx"); // disclosure
      t.index(["party_id", "at"], "relying_party_provisions_party_idx"); // "what did party P receive"
      t.index(["asked_serial"], "relying_party_provisions_asked_idx"); // known serials: asked before
      t.index(["at"], "relying_party_provisions_at_idx"); // retention by age
    });
    // Known serials: given in an earlier answer (`answered_serials @> '["…"]'`).
    await knex.raw("create index relying_party_provisions_answered_idx on relying_party_provisions using gin (answered_serials jsonb_path_ops)");

    await knex.schema.createTable("relying_party_query_windows", (t) => {
      t.text("party_id").notNullable();
      t.timestamp("window_start", { useTz: true }).notNullable();
      t.integer("queries").notNullable();
      t.primary(["party_id", "window_start"], { constraintName: "relying_party_query_windows_pkey" });
    });
  },
  async down(knex) {
    await knex.schema.dropTableIfExists("relying_party_query_windows");
    await knex.schema.dropTableIfExists("relying_party_provisions");
    await knex.schema.dropTableIfExists("consents");
    await knex.raw("alter table relying_parties drop constraint if exists relying_parties_platform_check");
    await knex.raw("alter table relying_parties drop column if exists platform_id");
    await knex.raw("alter table relying_parties drop constraint if exists relying_parties_environment_check");
    await knex.raw("alter table relying_parties drop column if exists environment");
    await knex.raw("alter table relying_parties drop column if exists verifier_types");
  },
};
