import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { FixedClock, systemClock } from "../../../ca/ports.js";
import type { CrlKind } from "../../../ca/revocation/crl-ports.js";
import { RevocationService } from "../../../ca/revocation/revocation-service.js";
import { pem } from "../../../ca/x509/pem.js";
import { crlEntrySerials } from "../../../crl/crl-reader.js";
import { createCrlService } from "../../../crl/crl-service.js";
import { parseCrlSettings } from "../../../crl/crl-settings.js";
import { removedFromCrlSerials } from "../../../crl/released-entries.js";
import { KnexAuditStore } from "../../../db/audit-store.js";
import { KnexCrlStore } from "../../../db/crl-store.js";
import { KnexOutboxStore } from "../../../db/outbox-store.js";
import { KnexResidentMunicipalityStore } from "../../../db/resident-municipality-store.js";
import { KnexCertificateReleaseStore } from "../../../db/revocation-release-store.js";
import { KnexRevocationWindowStore } from "../../../db/revocation-window-store.js";
import { createCrlWorld, type CrlWorld, type IssuedTestCertificate } from "../../support/crl-world.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase } from "../../support/database.js";
import { publicBaseUrl } from "../../support/end-entity-fixtures.js";
import { openssl, opensslOk, scratchDir } from "../x509/openssl.js";

/**
 * A lifted phone hold on CRLs (issue #16 item 1, crl/released-entries.ts), on PostgreSQL with openssl as
 * the relying party: the full CRL lists the hold; after the lift a delta CRL lists the certificate with
 * removeFromCRL (RFC 5280 §5.3.1, §5.2.4), which `openssl verify -crl_check -use_deltas` applies to the
 * old full CRL; the next full CRL omits it; the coverage check counts a lift the CRLs have not caught up
 * with as pending, and passes once they have.
 */
describe("phone hold lifted: removeFromCRL on the delta CRL (postgres, openssl)", function () {
  this.timeout(60_000);
  let t: TestDatabase;
  let world: CrlWorld;
  let dir: ReturnType<typeof scratchDir>;
  let caPem: string;
  let phone: IssuedTestCertificate;
  let other: IssuedTestCertificate;
  // A second behind: the CRLs are never "not yet valid" to openssl during the test.
  const clock = new FixedClock(new Date(Date.now() - 1000));

  before(async function () {
    requirePostgresUrl(this);
    dir = scratchDir();
    t = await openTestDatabase("postgres");
    world = await createCrlWorld(t.db, { partitionCount: 2 });
    caPem = join(dir.dir, "ca.pem");
    writeFileSync(caPem, pem(world.ca.certificate, "CERTIFICATE"));
    phone = await world.issue();
    other = await world.issue();
    // The phone user-auth certificate (device and kind as the phone application writes them).
    await t.db.knex("certificates").where({ serial: phone.serial }).update({ device: "phone", kind: "auth" });
  });
  after(async () => {
    await t?.close();
    dir?.remove();
  });

  it("full lists the hold; after the lift the delta says removeFromCRL and openssl accepts the certificate again; the next full omits it", async () => {
    const db = t.db;
    const released = new KnexCertificateReleaseStore(db);
    const store = new KnexCrlStore(db);
    const crl = createCrlService({
      store,
      outbox: new KnexOutboxStore(db),
      transactions: db,
      generations: [world.generation],
      signers: new Map([[world.caId, world.ca.signer]]),
      crlBaseUrl: publicBaseUrl,
      clock,
      settings: parseCrlSettings({ coalesceSeconds: 0 }),
      released,
    });
    const service = new RevocationService({
      clock: systemClock,
      transactions: db,
      certificates: world.certificates,
      audit: new KnexAuditStore(db),
      outbox: new KnexOutboxStore(db),
      residents: new KnexResidentMunicipalityStore(db),
      window: new KnexRevocationWindowStore(db),
      releases: released,
    });
    const scope = { scope: { kind: "ca-side", clientId: "admin:ws-01", purpose: "test" } as const };
    const crlFile = async (kind: CrlKind, partition = phone.partition): Promise<string> => {
      const c = (await store.publishedDer({ caId: world.caId, partition }, kind))!;
      const file = join(dir.dir, `${partition}-${kind}-${c.info.number}.pem`);
      writeFileSync(file, pem(c.der, "X509 CRL"));
      return file;
    };
    const certFile = join(dir.dir, "phone.pem");
    writeFileSync(certFile, pem(phone.der, "CERTIFICATE"));
    const verify = async (files: string[]) => openssl(["verify", "-crl_check", "-CAfile", caPem, ...(files.length > 1 ? ["-use_deltas"] : []), ...files.flatMap((f) => ["-CRLfile", f]), certFile]);

    await service.hold("cli", phone.serial, {}, scope);
    await service.revoke("cli", other.serial, { reason: "keyCompromise" }, scope);
    await crl.scheduler.runNow();
    const fullWithHold = await crlFile("full");
    assert.match(opensslOk(["crl", "-in", fullWithHold, "-noout", "-text"]), new RegExp(`Serial Number: ${phone.serial.toUpperCase()}[\\s\\S]*?Certificate Hold`));
    assert.match((await verify([fullWithHold])).out, /certificate revoked/);

    await service.liftPhoneHold("holder:test", phone.serial);
    const pendingReport = await crl.checkCoverage();
    assert.equal(pendingReport.ok, true, JSON.stringify(pendingReport.problems));
    assert.equal(pendingReport.pending, 1, "lifted after the CRLs were read: pending, not unlisted");

    const tick = await crl.scheduler.tick();
    assert.deepEqual(tick.partitions.map((p) => [p.partition, p.outcome]), [[phone.partition, "issued"]], "the lift's outbox row marked the partition");
    const delta = (await store.publishedDer({ caId: world.caId, partition: phone.partition }, "delta"))!;
    assert.deepEqual([...removedFromCrlSerials(delta.der)], [phone.serial]);
    const deltaFile = await crlFile("delta");
    const text = opensslOk(["crl", "-in", deltaFile, "-noout", "-text"]);
    assert.match(text, new RegExp(`Serial Number: ${phone.serial.toUpperCase()}[\\s\\S]*?Remove From CRL`));
    const verified = openssl(["crl", "-in", deltaFile, "-CAfile", caPem, "-noout", "-verify"]);
    assert.equal(verified.status, 0, verified.out);
    assert.match(verified.out, /verify OK/);
    const withDelta = await verify([fullWithHold, deltaFile]);
    assert.equal(withDelta.status, 0, `the old full CRL with the delta: ${withDelta.out}`);
    assert.match((await verify([fullWithHold])).out, /certificate revoked/, "the old full CRL alone still says hold");
    assert.equal((await crl.checkCoverage()).ok, true);

    await crl.scheduler.runNow(world.caId);
    const full = (await store.publishedDer({ caId: world.caId, partition: phone.partition }, "full"))!;
    assert.ok(![...crlEntrySerials(full.der)].includes(phone.serial), "the next full CRL omits the lifted certificate");
    // Within the delta margin the new delta may repeat the removal (harmless, as a revoked entry the base already has).
    assert.equal((await verify([await crlFile("full")])).status, 0);
    const both = await verify([await crlFile("full"), await crlFile("delta")]);
    assert.equal(both.status, 0, both.out);
    const coverage = await crl.checkCoverage();
    assert.equal(coverage.ok, true, JSON.stringify(coverage.problems));
  });
});
