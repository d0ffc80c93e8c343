import type { Migration } from "./migration.js";

/**
 * Object-level authorization (issue 12 §1) and the per-operator revocation window (issue 12 §3):
 * - residents.municipality_code: the resident's current municipality as the CA's record on file knows
 *   it (ca/access/resident-access.ts). A counter terminal acts only on residents of its own municipality
 *   (告示334号 第4-4(5)). Filled from the resident's latest issuance; set by the next issuance when null.
 * - terminals: a terminal is enrolled for exactly one municipality. NOT VALID: new and changed rows are
 *   checked, existing ones are left for the start-up check, which names them (api/main.ts).
 * - audit_log (actor, at) for manual revocations and holds: the sliding window counts an operator's
 *   revocations of the last hour from the database, so it holds across processes and nodes
 *   (ca/revocation/revocation-window.ts).
 */
export const residentScopeMigration: Migration = {
  name: "0017-resident-scope",
  async up(knex) {
    await knex.schema.alterTable("residents", (t) => {
      t.text("municipality_code").nullable();
    });
    await knex.raw(`
      update residents r set municipality_code = latest.municipality_code
      from (
        select distinct on (resident_code) resident_code, municipality_code
        from issuances
        order by resident_code, created_at desc, issuance_id desc
      ) latest
      where latest.resident_code = r.resident_code`);
    await knex.raw("alter table terminals add constraint terminals_municipality_required check (status = 'revoked' or municipality_code is not null) not valid");
    await knex.raw(`create index ${REVOCATION_WINDOW_INDEX} on audit_log (actor, at) where action in ('certificate.revoked', 'certificate.held')`);
  },
  async down(knex) {
    await knex.raw(`drop index if exists ${REVOCATION_WINDOW_INDEX}`);
    await knex.raw("alter table terminals drop constraint if exists terminals_municipality_required");
    await knex.schema.alterTable("residents", (t) => {
      t.dropColumn("municipality_code");
    });
  },
};

export const REVOCATION_WINDOW_INDEX = "audit_log_manual_revocations_idx";
