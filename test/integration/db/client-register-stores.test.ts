import assert from "node:assert/strict";
import { CaError } from "../../../ca/errors.js";
import { KnexClientCertificateStore } from "../../../db/client-certificate-store.js";
import { KnexLoginAttemptStore } from "../../../db/login-attempt-store.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase, type TestEngine } from "../../support/database.js";

const T0 = new Date("2026-11-24T00:30:00Z");

/** Migration 0018's stores on both engines: the client-certificate register and the shared login counters. */
for (const engine of ["pglite", "postgres"] as TestEngine[]) {
  describe(`client register and login attempt stores (${engine})`, function () {
    this.timeout(60_000);
    let t: TestDatabase;
    before(async function () {
      if (engine === "postgres") requirePostgresUrl(this);
      t = await openTestDatabase(engine);
    });
    after(async () => {
      await t?.close();
    });

    it("registers, refuses a second active registration or a known fingerprint, revokes and re-registers", async () => {
      const s = new KnexClientCertificateStore(t.db);
      const rec = { kind: "admin" as const, clientId: "ws-01", clientCertSerial: "4a01", clientCertFingerprint: "aa".repeat(32), description: "desk 1", enrolledAt: T0 };
      await s.register(rec);
      assert.deepEqual(await s.get("admin", "ws-01"), { ...rec, status: "active", revokedAt: null });
      assert.equal(await s.get("feed", "ws-01"), undefined);
      await assert.rejects(s.register({ ...rec, clientCertSerial: "4a02", clientCertFingerprint: "bb".repeat(32) }), (e: unknown) => e instanceof CaError && e.kind === "conflict");
      await assert.rejects(s.register({ ...rec, kind: "feed", clientCertSerial: "4a03" }), (e: unknown) => e instanceof CaError && e.kind === "conflict");
      assert.equal(await s.revoke("admin", "ws-01", T0), true);
      assert.equal(await s.revoke("admin", "ws-01", T0), false);
      await s.register({ ...rec, clientCertSerial: "4a04", clientCertFingerprint: "cc".repeat(32) });
      assert.deepEqual((await s.list("admin")).map((r) => [r.clientId, r.status, r.clientCertSerial]), [["ws-01", "active", "4a04"]]);
    });

    it("counts concurrent attempts exactly, gives successes back, purges old windows", async () => {
      const s = new KnexLoginAttemptStore(t.db);
      const keys = ["certificate:" + "dd".repeat(32), "source:192.0.2.1"];
      const counts = await Promise.all(Array.from({ length: 20 }, () => s.hit(keys, T0)));
      assert.deepEqual(counts.map((c) => c[0]).sort((a, b) => a! - b!), Array.from({ length: 20 }, (_, i) => i + 1));
      await s.release(keys, T0);
      assert.deepEqual(await s.hit(keys, T0), [20, 20]);
      assert.deepEqual(await s.hit(keys, new Date(T0.getTime() + 300_000)), [1, 1]);
      assert.equal(await s.purge(new Date(T0.getTime() + 1)), 2);
      assert.deepEqual(await s.hit(keys, T0), [1, 1]);
    });
  });
}
