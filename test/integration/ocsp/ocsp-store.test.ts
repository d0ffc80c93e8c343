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
