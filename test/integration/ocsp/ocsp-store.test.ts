import assert from "node:assert/strict";
import { KnexCaGenerationStore } from "../../../db/ca-generation-store.js";
import { KnexOcspStore } from "../../../db/ocsp-store.js";
import { ocspStoreContract, type OcspStoreHarness } from "../../contract/ocsp-store.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase, type TestEngine } from "../../support/database.js";
import { makeOcspCa, type OcspTestCa } from "../../unit/ocsp/fixtures.js";

/** db/ocsp-store.ts against the shared contract, on PGlite and (with DATABASE_URL) PostgreSQL. */
let ca: OcspTestCa;
before(async function () {
  this.timeout(30_000);
  ca = await makeOcspCa();
});

async function harness(engine: TestEngine, shared: { db?: TestDatabase }): Promise<OcspStoreHarness> {
  // One database per engine for the whole suite (PGlite starts in seconds); tables are emptied per test.
  shared.db ??= await openTestDatabase(engine);
  const db = shared.db.db;
  const k = db.executor();
  await k.raw("truncate ocsp_access_log, ocsp_responses, certificates, blocked_keys cascade");
  await k("ca_generations").del();
  await new KnexCaGenerationStore(db).insert(ca.generation);
  return {
    store: new KnexOcspStore(db),
    caId: ca.generation.id,
    addCertificate: async (s) => {
      await k("certificates").insert({
        serial: s.serial,
        ca_id: s.caId,
        kind: "auth",
        status: s.status,
        not_before: new Date(s.notAfter.getTime() - 365 * 86_400_000),
        not_after: s.notAfter,
        partition: 0,
        der: null,
        tbs: Buffer.from([0x30, 0x00]),
        public_key_sha256: s.serial.padEnd(64, "0"),
        subject_id: "x",
        recorded: "{}",
        revoked_at: s.revokedAt,
        revocation_reason: s.reason,
        status_version: s.statusVersion ?? 0,
        created_at: new Date(),
        updated_at: new Date(),
      });
    },
    accessLogOf: (party) => new KnexOcspStore(db).accessLogOf(party),
    close: async () => undefined,
  };
}

for (const engine of ["pglite", "postgres"] as const) {
  describe(`db/ocsp-store on ${engine}`, function () {
    this.timeout(60_000);
    const shared: { db?: TestDatabase } = {};
    before(function () {
      if (engine === "postgres") requirePostgresUrl(this);
    });
    after(async () => {
      await shared.db?.close();
    });
    ocspStoreContract(engine, () => harness(engine, shared));
  });
}

/**
 * The refresher, the drop and the age metric read partial indexes (migration 0022), so rows out of the
 * refresh are never scanned by the refresher nor live rows by the drop (docs/ocsp.md). The store's own
 * statements are captured and explained with sequential scans discouraged: an index the statement
 * cannot use would still show a Seq Scan.
 */
describe("db/ocsp-store plans on postgres", function () {
  this.timeout(60_000);
  const shared: { db?: TestDatabase } = {};
  before(function () {
    requirePostgresUrl(this);
  });
  after(async () => {
    await shared.db?.close();
  });

  it("listDue, dropUnrequested and oldestThisUpdate use the partial indexes", async () => {
    const h = await harness("postgres", shared);
    const k = shared.db!.db.executor();
    const captured: Array<{ sql: string; bindings: readonly unknown[] }> = [];
    const listen = (q: { sql: string; bindings?: readonly unknown[] }): void => void captured.push({ sql: q.sql, bindings: q.bindings ?? [] });
    const now = new Date("2026-11-01T00:00:00Z");
    k.on("query", listen);
    try {
      await h.store.listDue(now, 10);
      await h.store.dropUnrequested(now, now, 10);
      await h.store.oldestThisUpdate();
    } finally {
      k.removeListener("query", listen);
    }
    const expected = ["ocsp_responses_refresh_at_idx", "ocsp_responses_unrefreshed_next_update_idx", "ocsp_responses_refreshed_this_update_idx"];
    assert.equal(captured.length, expected.length);
    for (const [i, q] of captured.entries()) {
      const plan = await k.transaction(async (trx) => {
        await trx.raw("set local enable_seqscan = off");
        // The captured text has the driver's $n placeholders, in order; knex.raw takes ?.
        const r = (await trx.raw(`explain ${q.sql.replace(/\$\d+/g, "?")}`, q.bindings as never)) as { rows: Array<{ "QUERY PLAN": string }> };
        return r.rows.map((row) => row["QUERY PLAN"]).join("\n");
      });
      assert.match(plan, new RegExp(expected[i]!), `${q.sql}\n${plan}`);
    }
  });
});
