import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { KnexCaGenerationStore } from "../../../db/ca-generation-store.js";
import { KnexCertificateStore } from "../../../db/certificate-store.js";
import { migrateLatest } from "../../../db/migrate.js";
import { migrations } from "../../../db/migrations/index.js";
import { blockedKeysMigration } from "../../../db/migrations/0019-blocked-keys.js";
import { PublicKeyRefusedError } from "../../../ca/issuance/issuance-ports.js";
import type { NewPendingCertificate } from "../../../ca/stores.js";
import { fakeCaGeneration } from "../../support/ca-generation-fixture.js";
import { openTestDatabase, type TestDatabase } from "../../support/database.js";

/**
 * Migration 0019 on a database that already has certificates: keys of certificates revoked for
 * keyCompromise before the migration are blocked (backfill), once per key; other revocations are not
 * blocked but still refused (the trigger reads the certificates); down() removes it all.
 */
describe("migration 0019-blocked-keys (PGlite)", function () {
  this.timeout(120_000);
  let t: TestDatabase;
  const T0 = new Date("2026-11-22T05:00:00Z");
  const hex = (n: number): string => randomBytes(n).toString("hex");
  const before0019 = migrations.slice(0, migrations.indexOf(blockedKeysMigration));

  before(async () => {
    t = await openTestDatabase("pglite", { migrate: false });
    await migrateLatest(t.db, before0019);
  });
  after(async () => {
    await t?.close();
  });

  it("backfills blocked_keys from keyCompromise revocations, then refuses those keys and the other revoked ones", async () => {
    const gen = fakeCaGeneration("sign", 9, T0);
    await new KnexCaGenerationStore(t.db).insert(gen);
    const certificates = new KnexCertificateStore(t.db);
    const pending = (key: string): NewPendingCertificate => ({
      serial: `0${gen.serialPrefix}${hex(9)}`, caId: gen.id, kind: "sign", notBefore: T0, notAfter: new Date("2031-01-01T00:00:00Z"), partition: 1,
      tbs: Uint8Array.from([0x30, 0x00]), publicKeySha256: key, subjectId: hex(8), residentCode: null, issuanceId: null, recorded: {}, createdAt: T0,
    });
    const [compromised, superseded] = [hex(32), hex(32)];
    // Before 0019 a key could come back after a revocation: two compromised certificates with one key.
    const rows: Array<[string, "keyCompromise" | "superseded"]> = [[compromised, "keyCompromise"], [compromised, "keyCompromise"], [superseded, "superseded"]];
    const serials: string[] = [];
    for (const [key, reason] of rows) {
      const p = pending(key);
      await certificates.insertPending(p);
      await certificates.revoke(p.serial, { status: "revoked", reason, revokedAt: T0, invalidityDate: null });
      serials.push(p.serial);
    }

    assert.deepEqual(await migrateLatest(t.db), migrations.slice(before0019.length).map((m) => m.name));
    const blocked = await t.db.knex("blocked_keys").select("key_sha256", "source", "reason", "serial");
    assert.equal(blocked.length, 1, "one row per key");
    assert.deepEqual({ ...blocked[0], serial: undefined }, { key_sha256: compromised, source: "backfill", reason: "keyCompromise", serial: undefined });
    assert.ok(serials.slice(0, 2).includes(String(blocked[0]?.serial)));

    await assert.rejects(certificates.insertPending(pending(compromised)), (e: unknown) => e instanceof PublicKeyRefusedError && e.rule === "blocked");
    await assert.rejects(certificates.insertPending(pending(superseded)), (e: unknown) => e instanceof PublicKeyRefusedError && e.rule === "certified-before");
    await certificates.insertPending(pending(hex(32)));
  });

  it("rolls back cleanly (down): no table, no triggers, no functions", async () => {
    await t.db.knex.transaction((trx) => blockedKeysMigration.down(trx));
    const left = await t.db.knex.raw("select count(*)::int as n from pg_proc where proname in ('certificates_refuse_used_key', 'certificates_block_compromised_key')");
    assert.equal((left.rows as Array<{ n: number }>)[0]?.n, 0);
    assert.equal(await t.db.knex.schema.hasTable("blocked_keys"), false);
  });
});
