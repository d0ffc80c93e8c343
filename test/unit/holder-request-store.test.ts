import assert from "node:assert/strict";
import { KnexClientCertificateStore } from "../../db/client-certificate-store.js";
import { KnexHolderRequestStore } from "../../db/holder-request-store.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase, type TestEngine } from "../support/database.js";

const T0 = new Date("2026-11-24T00:30:00Z");

/** Migration 0027 on both engines: a holder-signed request recorded once, its outcome; holder portals in the client register. */
for (const engine of ["pglite", "postgres"] as TestEngine[]) {
  describe(`db/holder-request-store and migration 0027 (${engine})`, function () {
    this.timeout(60_000);
    let t: TestDatabase;
    before(async function () {
      if (engine === "postgres") requirePostgresUrl(this);
      t = await openTestDatabase(engine);
    });
    after(async () => {
      await t?.close();
    });

    it("records a digest once (a second insert is a replay), keeps and replaces its outcome, and rolls back with its transaction", async () => {
      const s = new KnexHolderRequestStore(t.db);
      const entry = { digest: "ab".repeat(32), purpose: "phone-application", serial: "41aa", createdAt: T0, outcome: { serials: ["01", "02"] } };
      assert.equal(await t.db.transaction((tx) => s.insert(entry, tx)), true);
      assert.equal(await t.db.transaction((tx) => s.insert({ ...entry, purpose: "phone-suspension", outcome: null }, tx)), false);
      assert.deepEqual(await s.get(entry.digest), entry);
      await t.db.transaction((tx) => s.setOutcome(entry.digest, { serials: ["01", "02"], answer: { certificates: [] } }, tx));
      assert.deepEqual((await s.get(entry.digest))?.outcome, { serials: ["01", "02"], answer: { certificates: [] } });
      await assert.rejects(t.db.transaction(async (tx) => {
        await s.insert({ ...entry, digest: "cd".repeat(32), outcome: null }, tx);
        throw new Error("rolled back");
      }));
      assert.equal(await s.get("cd".repeat(32)), undefined);
    });

    it("registers a holder portal in the client register (kind check widened)", async () => {
      const c = new KnexClientCertificateStore(t.db);
      await c.register({ kind: "holder-portal", clientId: "myna", clientCertSerial: "4b01", clientCertFingerprint: "cc".repeat(32), description: null, enrolledAt: T0 });
      assert.equal((await c.get("holder-portal", "myna"))?.status, "active");
    });
  });
}
