import assert from "node:assert/strict";
import { migrateLatest, migrateRollbackAll } from "../../../db/migrate.js";
import { migrations } from "../../../db/migrations/index.js";
import { relyingPartyTypesMigration } from "../../../db/migrations/0029-relying-party-types.js";
import { KnexRelyingPartyStore } from "../../../db/relying-party-store.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase, type TestEngine } from "../../support/database.js";

/**
 * Migration 0029 on a database that already has relying parties: they become `signing` + `user-auth`,
 * `production` (docs/relying-parties.md "Registration"); the environment is checked; one open consent per
 * resident and party; down() removes it all. On PGlite and PostgreSQL.
 */
for (const engine of ["pglite", "postgres"] as TestEngine[]) {
  describe(`migration 0029-relying-party-types (${engine})`, function () {
    this.timeout(120_000);
    let t: TestDatabase;
    const before0029 = migrations.slice(0, migrations.indexOf(relyingPartyTypesMigration));
    const at = new Date("2026-12-05T00:00:00Z");

    before(async function () {
      if (engine === "postgres") requirePostgresUrl(this);
      t = await openTestDatabase(engine, { migrate: false });
      await migrateLatest(t.db, before0029);
      await t.db.knex("relying_parties").insert({ id: "old-bank", name: "old", active: true, api_key_sha256: null, created_at: at });
      await migrateLatest(t.db);
    });
    after(async () => {
      await t?.close();
    });

    it("turns an existing party into a signing + user-auth verifier in production", async () => {
      assert.deepEqual(await new KnexRelyingPartyStore(t.db).profile("old-bank"), { id: "old-bank", active: true, types: ["signing", "user-auth"], environment: "production", platformId: null });
    });

    it("refuses an unknown environment, a party that is its own platform, and a second open consent", async () => {
      const k = t.db.knex;
      await assert.rejects(k("relying_parties").insert({ id: "x", name: "x", created_at: at, environment: "staging" }), /relying_parties_environment_check/);
      await assert.rejects(k("relying_parties").insert({ id: "y", name: "y", created_at: at, platform_id: "y" }), /relying_parties_platform_check/);
      const consent = { resident_code: "12345678901", party_id: "old-bank", scope: JSON.stringify(["latest-four-items"]), granted_at: at, granted_with: "41aa" };
      await k("consents").insert(consent);
      await assert.rejects(k("consents").insert(consent), /consents_open_uq/);
      await k("consents").update({ withdrawn_at: at, withdrawn_with: "41aa" });
      await k("consents").insert(consent); // a new grant after the withdrawal
    });

    it("rolls back", async () => {
      await migrateRollbackAll(t.db);
      const left = await t.db.knex.raw("select to_regclass('consents') as c, to_regclass('relying_party_provisions') as p");
      const row = (left as { rows: Array<Record<string, unknown>> }).rows[0]!;
      assert.equal(row.c, null);
      assert.equal(row.p, null);
    });
  });
}
