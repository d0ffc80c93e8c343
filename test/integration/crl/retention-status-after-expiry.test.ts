import assert from "node:assert/strict";
import { defaultStatusAfterExpiryPolicy, StatusAfterExpiry } from "../../../ca/revocation/status-after-expiry.js";
import { KnexCrlStore } from "../../../db/crl-store.js";
import { KnexOcspStore } from "../../../db/ocsp-store.js";
import { certificatePersonalFieldsTask } from "../../../db/retention-tasks.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase } from "../../support/database.js";
import { createCrlWorld, type CrlWorld, type IssuedTestCertificate } from "../../support/crl-world.js";

/**
 * Retention and status after expiry (ca/records/retention.ts, docs/domain.md §4): what OCSP and the CRLs
 * read for an expired certificate (status, revocation time and reason, notAfter, CA, partition) is never
 * purged — not by the shortest personal-fields retention inside the period, not after it.
 */
describe("retention keeps what status after expiry reads (postgres)", function () {
  this.timeout(60_000);
  let t: TestDatabase;
  let world: CrlWorld;
  let cert: IssuedTestCertificate;
  const policy = new StatusAfterExpiry(defaultStatusAfterExpiryPolicy);
  const notAfter = new Date("2026-01-31T14:59:59Z");

  before(async function () {
    requirePostgresUrl(this);
    t = await openTestDatabase("postgres");
    world = await createCrlWorld(t.db, { partitionCount: 1, seed: 61 });
    cert = await world.issue({ notBefore: new Date("2025-01-01T00:00:00Z"), notAfter });
    await world.revoke(cert.serial, "keyCompromise", new Date("2026-01-10T00:00:00Z"));
  });
  after(async () => {
    await t?.close();
  });

  const statusRead = async (at: Date) => {
    const snapshot = (await new KnexOcspStore(t.db).statuses([cert.serial])).get(cert.serial);
    const listed = await new KnexCrlStore(t.db).revokedEntries({ caId: world.caId, partition: 0, notAfterFloor: policy.floor(world.caId, at)!, limit: 100 });
    return { snapshot, listed: listed.some((e) => e.serial === cert.serial) };
  };

  it("the shortest personal-fields retention (1 year) purges nothing of it inside the period", async () => {
    const inside = new Date("2026-04-30T14:59:59Z");
    const task = certificatePersonalFieldsTask(t.db, 1);
    assert.equal((await task.plan(inside)).eligible, 0);
    await task.apply(inside);
    const r = await statusRead(inside);
    assert.equal(r.snapshot?.status, "revoked");
    assert.equal(r.listed, true);
  });

  it("years later, with personal fields stripped, the status columns are still there", async () => {
    const later = new Date("2037-03-01T00:00:00Z");
    const task = certificatePersonalFieldsTask(t.db, 10);
    assert.ok((await task.apply(later)).purged >= 1);
    const snapshot = (await new KnexOcspStore(t.db).statuses([cert.serial])).get(cert.serial);
    assert.equal(snapshot?.status, "revoked");
    assert.equal(snapshot?.reason, "keyCompromise");
    assert.equal(snapshot?.notAfter.toISOString(), notAfter.toISOString());
  });
});
