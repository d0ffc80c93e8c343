import assert from "node:assert/strict";
import { KnexAuditStore } from "../../../db/audit-store.js";
import { migrateLatest } from "../../../db/migrate.js";
import { migrations } from "../../../db/migrations/index.js";
import { residentScopeMigration } from "../../../db/migrations/0017-resident-scope.js";
import { KnexResidentMunicipalityStore } from "../../../db/resident-municipality-store.js";
import { KnexRevocationWindowStore } from "../../../db/revocation-window-store.js";
import { openTestDatabase, type TestDatabase } from "../../support/database.js";

/**
 * Migration 0017 on a database that already has residents and terminals: each resident's municipality
 * comes from their latest issuance; a terminal without a municipality stays (the start-up check names
 * it) but no new one can be written; the window counts an operator's manual revocations in SQL.
 */
describe("migration 0017-resident-scope and its stores (PGlite)", function () {
  this.timeout(120_000);
  let t: TestDatabase;
  const T0 = new Date("2026-11-22T05:00:00Z");
  const before0017 = migrations.slice(0, migrations.indexOf(residentScopeMigration));

  before(async () => {
    t = await openTestDatabase("pglite", { migrate: false });
    await migrateLatest(t.db, before0017);
  });
  after(async () => {
    await t?.close();
  });

  it("backfills residents.municipality_code from the latest issuance; keeps legacy terminals but refuses new ones without a municipality", async () => {
    const k = t.db.knex;
    const resident = (code: string) => ({
      resident_code: code, name: "山田　花子", name_substitute_flags: "00000", alias: null, alias_substitute_flags: null, date_of_birth: "1980-02-17",
      gender: 2, address: "大阪府", address_substitute_flags: "000", created_at: T0, updated_at: T0,
    });
    await k("residents").insert([resident("11111111111"), resident("22222222222")]);
    const issuance = (id: string, code: string, municipality: string, at: Date) => ({
      issuance_id: id, terminal_id: "t", idempotency_key: id, request_sha256: "00", operator_id: "op", municipality_code: municipality,
      application_date: "2026-11-22", resident_code: code, status: "completed", response: null, created_at: at, completed_at: at,
    });
    await k("issuances").insert([issuance("i1", "11111111111", "131041", T0), issuance("i2", "11111111111", "271004", new Date(T0.getTime() + 1000))]);
    await k("terminals").insert({ terminal_id: "legacy-1", municipality_code: null, client_cert_serial: "7f01", client_cert_fingerprint: "aa", status: "active", operating_hours: null, enrolled_at: T0, revoked_at: null });

    await migrateLatest(t.db);
    const store = new KnexResidentMunicipalityStore(t.db);
    assert.equal(await store.currentMunicipality("11111111111"), "271004", "the latest issuance: the resident moved to Osaka");
    assert.equal(await store.currentMunicipality("22222222222"), null, "on file without an issuance");
    assert.equal(await store.currentMunicipality("33333333333"), undefined, "not on file");
    await store.setMunicipality("22222222222", "131041");
    assert.equal(await store.currentMunicipality("22222222222"), "131041");

    assert.equal((await k("terminals").where({ terminal_id: "legacy-1" }).first())?.municipality_code, null, "kept for the start-up check to name");
    await assert.rejects(
      k("terminals").insert({ terminal_id: "new-1", municipality_code: null, client_cert_serial: "7f02", client_cert_fingerprint: "bb", status: "active", operating_hours: null, enrolled_at: T0, revoked_at: null }),
      /terminals_municipality_required/,
    );
    await k("terminals").where({ terminal_id: "legacy-1" }).update({ status: "revoked", revoked_at: T0 });
  });

  it("counts an operator's revocations and held certificates of the window from the audit log, not approved ones nor others'", async () => {
    const audit = new KnexAuditStore(t.db);
    const window = new KnexRevocationWindowStore(t.db);
    const entry = (actor: string, action: string, at: Date, detail: Record<string, unknown> = {}) => audit.append({ at, action, actor, subject: "certificate:0a", outcome: "success", detail });
    const hourAgo = new Date(T0.getTime() - 3_600_000);
    await entry("operator:ops", "certificate.revoked", new Date(hourAgo.getTime() - 1000)); // outside the window
    await entry("operator:ops", "certificate.revoked", T0);
    await entry("operator:ops", "certificate.held", T0, { serials: ["0a", "0b"] });
    await entry("operator:ops", "certificate.revoked", T0, { approvalId: "ap-1" }); // approved
    await entry("operator:other", "certificate.revoked", T0);
    await entry("operator:ops", "access.denied", T0);
    assert.equal(await window.lockAndCount("operator:ops", hourAgo), 3);
    assert.equal(await t.db.transaction((tx) => window.lockAndCount("operator:ops", hourAgo, tx)), 3, "with the advisory lock in a transaction");
    assert.equal(await window.lockAndCount("operator:nobody", hourAgo), 0);
  });
});
