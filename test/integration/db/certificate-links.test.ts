import assert from "node:assert/strict";
import { pendingCertificateRow } from "../../../db/certificate-store.js";
import { KnexCertificateLinkStore } from "../../../db/certificate-link-store.js";
import { KnexIssuanceStore } from "../../../db/issuance-store.js";
import { migrateLatest } from "../../../db/migrate.js";
import { migrations } from "../../../db/migrations/index.js";
import { certificateLinksMigration } from "../../../db/migrations/0026-certificate-links.js";
import { certificateLinksContract } from "../../contract/certificate-links.js";
import { fakeCaGeneration } from "../../support/ca-generation-fixture.js";
import { knexStores, openTestDatabase, requirePostgresUrl, type TestDatabase, type TestEngine } from "../../support/database.js";

/**
 * Migration 0026 (certificates.device, certificate_links) and the linkage graph (docs/linkage.md) on both
 * engines: the migration on a database that already holds certificates, the store and issuance contract,
 * and (PostgreSQL) that `from` and `to` read their indexes, not the table.
 */
const T0 = new Date("2026-11-22T05:00:00Z");
const upTo0026 = migrations.slice(0, migrations.indexOf(certificateLinksMigration) + 1);
const before0026 = upTo0026.slice(0, -1);

for (const engine of ["pglite", "postgres"] as const satisfies readonly TestEngine[]) {
  describe(`migration 0026-certificate-links and the linkage graph (${engine})`, function () {
    this.timeout(120_000);
    before(function () {
      if (engine === "postgres") requirePostgresUrl(this);
    });

    it("marks the certificates already issued as card ones, refuses another device, and rolls back", async () => {
      const t = await openTestDatabase(engine, { migrate: false });
      try {
        await migrateLatest(t.db, before0026);
        const k = t.db.knex;
        const gen = fakeCaGeneration("sign", 1, T0);
        await knexStores(t.db).caGenerations.insert(gen);
        const row = (serial: string, extra: Record<string, unknown> = {}) => {
          const r = pendingCertificateRow({
            serial, caId: gen.id, kind: "sign", notBefore: T0, notAfter: T0, partition: 0, tbs: Uint8Array.from([0x30, 0]),
            publicKeySha256: serial.padStart(64, "0"), subjectId: "s", residentCode: "12345678901", issuanceId: null, recorded: {}, createdAt: T0,
          });
          return { ...r, ...extra }; // no device: the row as the code before 0026 wrote it
        };
        await k("certificates").insert(row("0a01"));

        assert.deepEqual(await migrateLatest(t.db, upTo0026), ["0026-certificate-links"]);
        assert.equal((await knexStores(t.db).certificates.get("0a01"))?.device, "card");
        await k("certificates").insert(row("0a02", { device: "phone", public_key_sha256: "ff".repeat(32) }));
        assert.equal((await knexStores(t.db).certificates.get("0a02"))?.device, "phone");
        await assert.rejects(k("certificates").insert(row("0a03", { device: "tablet", public_key_sha256: "ee".repeat(32) })), /certificates_device_check/);
        await assert.rejects(
          k("certificate_links").insert({ from_serial: "0a01", to_serial: "0a02", link: "cousin", resident_code: null, created_at: T0 }),
          /certificate_links_link_check/,
        );
        await k("certificate_links").insert({ from_serial: "0a01", to_serial: "0a02", link: "card-phone", resident_code: null, created_at: T0 });
        await assert.rejects(
          k("certificate_links").insert({ from_serial: "0a01", to_serial: "0a02", link: "card-phone", resident_code: null, created_at: T0 }),
          /certificate_links_pkey/,
        );

        await t.db.transaction((tx) => certificateLinksMigration.down(t.db.executor(tx) as never));
        assert.equal(await k.schema.hasTable("certificate_links"), false);
        assert.equal(await k.schema.hasColumn("certificates", "device"), false);
        await t.db.transaction((tx) => certificateLinksMigration.up(t.db.executor(tx) as never));
        assert.equal(await k.schema.hasTable("certificate_links"), true);
        assert.equal((await k("certificates").where({ serial: "0a02" }).first("device"))?.device, "card", "down drops the column: up starts again from card");
      } finally {
        await t.close();
      }
    });

    let shared: TestDatabase | undefined;
    after(async () => {
      await shared?.close();
    });
    certificateLinksContract(engine === "pglite" ? "PGlite" : "PostgreSQL", async () => {
      shared = await openTestDatabase(engine);
      const db = shared.db;
      const { caGenerations, certificates } = knexStores(db);
      return { transactions: db, caGenerations, certificates, issuances: new KnexIssuanceStore(db), links: new KnexCertificateLinkStore(db), close: async () => {} };
    });
  });
}

describe("certificate_links lookups (PostgreSQL plans)", function () {
  this.timeout(60_000);
  let t: TestDatabase;
  before(async function () {
    requirePostgresUrl(this);
    t = await openTestDatabase("postgres");
  });
  after(async () => {
    await t?.close();
  });

  /** The plan of the query the store builds, with sequential scans priced out (a near-empty table would pick one). */
  async function planOf(build: (k: ReturnType<TestDatabase["db"]["executor"]>) => { toString(): string }): Promise<string> {
    return t.db.transaction(async (tx) => {
      const k = t.db.executor(tx);
      await k.raw("set local enable_seqscan = off");
      const { rows } = (await k.raw(`explain ${build(k).toString()}`)) as { rows: Array<{ "QUERY PLAN": string }> };
      return rows.map((r) => r["QUERY PLAN"]).join("\n");
    });
  }
  const order = [{ column: "created_at" }, { column: "from_serial" }, { column: "to_serial" }];

  it("`from` reads the primary key (from_serial, link, to_serial)", async () => {
    const plan = await planOf((k) => k("certificate_links").where({ from_serial: "0a01", link: "successor" }).orderBy(order));
    assert.match(plan, /certificate_links_pkey/, plan);
  });

  it("`to` reads certificate_links_to_idx (to_serial, link)", async () => {
    const plan = await planOf((k) => k("certificate_links").where({ to_serial: "0a01", link: "successor" }).orderBy(order));
    assert.match(plan, /certificate_links_to_idx/, plan);
  });

  it("`ofResident` reads certificate_links_resident_idx", async () => {
    const plan = await planOf((k) => k("certificate_links").where({ resident_code: "12345678901" }).orderBy(order));
    assert.match(plan, /certificate_links_resident_idx/, plan);
  });
});
