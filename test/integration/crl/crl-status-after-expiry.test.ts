import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { FixedClock } from "../../../ca/ports.js";
import { defaultStatusAfterExpiryPolicy, StatusAfterExpiry } from "../../../ca/revocation/status-after-expiry.js";
import { pem } from "../../../ca/x509/pem.js";
import type { CrlKind } from "../../../ca/revocation/crl-ports.js";
import { crlEntrySerials } from "../../../crl/crl-reader.js";
import { createCrlService, type CrlService } from "../../../crl/crl-service.js";
import { parseCrlSettings } from "../../../crl/crl-settings.js";
import { KnexCrlStore } from "../../../db/crl-store.js";
import { KnexOutboxStore } from "../../../db/outbox-store.js";
import { publicBaseUrl } from "../../support/end-entity-fixtures.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase } from "../../support/database.js";
import { createCrlWorld, type CrlWorld, type IssuedTestCertificate } from "../../support/crl-world.js";
import { openssl, opensslOk, scratchDir } from "../x509/openssl.js";

/**
 * Status after expiry on the CRLs (docs/crl.md "Status after expiry"), real PostgreSQL, injected clock,
 * openssl as the parser: a revoked certificate stays listed after notAfter until the end of the third
 * month after the month it expired (JST), far beyond the 7-day look-back; the CRL says so with
 * expiredCertsOnCRL (X.509 2.5.29.60); the coverage check requires the same entries; after the cutoff
 * the entry is gone.
 */
describe("CRL status after expiry on postgres (openssl, injected clock)", function () {
  this.timeout(60_000);
  let t: TestDatabase;
  let world: CrlWorld;
  const clock = new FixedClock(new Date("2026-01-20T00:00:00Z"));
  const afterExpiry = new StatusAfterExpiry(defaultStatusAfterExpiryPolicy);
  let withStatus: CrlService & { store: KnexCrlStore };
  let without: CrlService & { store: KnexCrlStore };
  let dir: ReturnType<typeof scratchDir>;
  let caPem: string;
  /** Revoked, expires 2026-01-31 23:59:59 JST: listed until 2026-04-30T15:00:00Z. */
  let inside: IssuedTestCertificate;
  /** Revoked, expired 2025-09-30 23:59:59 JST: its status ended 2025-12-31T15:00:00Z. */
  let ended: IssuedTestCertificate;
  /** Revoked, not expired. */
  let live: IssuedTestCertificate;

  const service = (status: boolean): CrlService & { store: KnexCrlStore } => {
    const store = new KnexCrlStore(t.db);
    return Object.assign(
      createCrlService({
        store,
        outbox: new KnexOutboxStore(t.db),
        transactions: t.db,
        generations: [world.generation],
        signers: new Map([[world.caId, world.ca.signer]]),
        crlBaseUrl: publicBaseUrl,
        clock,
        settings: parseCrlSettings({ coalesceSeconds: 0 }),
        ...(status ? { afterExpiry } : {}),
      }),
      { store },
    );
  };
  const crlText = async (kind: CrlKind): Promise<{ file: string; text: string; serials: string[] }> => {
    const c = await withStatus.store.publishedDer({ caId: world.caId, partition: 0 }, kind);
    assert.ok(c, `no ${kind} CRL`);
    const file = join(dir.dir, `${kind}-${c.info.number}.pem`);
    writeFileSync(file, pem(c.der, "X509 CRL"));
    const verified = openssl(["crl", "-in", file, "-CAfile", caPem, "-noout", "-verify"]);
    assert.equal(verified.status, 0, verified.out);
    return { file, text: opensslOk(["crl", "-in", file, "-noout", "-text"]), serials: [...crlEntrySerials(c.der)] };
  };
  /** openssl 3.0 has no name for 2.5.29.60: it prints the OID and the value's bytes (`..20251130150000Z`); a newer one may name it. */
  const expiredCertsOnCrl = (text: string): string | undefined => /(?:Expired Certificates on CRL|2\.5\.29\.60):\s*\n\s*(\S.*)/.exec(text)?.[1]?.trim();

  before(async function () {
    requirePostgresUrl(this);
    dir = scratchDir();
    t = await openTestDatabase("postgres");
    world = await createCrlWorld(t.db, { partitionCount: 1, seed: 60 });
    withStatus = service(true);
    without = service(false);
    caPem = join(dir.dir, "ca.pem");
    writeFileSync(caPem, pem(world.ca.certificate, "CERTIFICATE"));
    const notBefore = new Date("2025-01-01T00:00:00Z");
    inside = await world.issue({ notBefore, notAfter: new Date("2026-01-31T14:59:59Z") });
    ended = await world.issue({ notBefore, notAfter: new Date("2025-09-30T14:59:59Z") });
    live = await world.issue({ notBefore });
    await world.revoke(ended.serial, "keyCompromise", new Date("2025-06-01T00:00:00Z"));
    await world.revoke(inside.serial, "affiliationChanged", new Date("2026-01-10T00:00:00Z"));
    await world.revoke(live.serial, "keyCompromise", new Date("2026-01-10T00:00:00Z"));
  });
  after(async () => {
    await withStatus?.scheduler.stop();
    await without?.scheduler.stop();
    await t?.close();
    dir?.remove();
  });

  it("inside the period: the expired revoked certificate stays on the full and delta CRL, which carry expiredCertsOnCRL; openssl parses both", async () => {
    clock.set(new Date("2026-03-10T00:00:00Z")); // 38 days after notAfter: beyond the 7-day look-back
    await withStatus.scheduler.runNow();
    for (const kind of ["full", "delta"] as const) {
      const { text, serials } = await crlText(kind);
      // 2026-03 JST minus three month ends: 2025-12-01 00:00 JST.
      assert.match(expiredCertsOnCrl(text) ?? "", /Nov 30 15:00:00 2025 GMT|20251130150000Z/, text);
      if (kind === "full") {
        assert.ok(serials.includes(inside.serial), "expired inside the period: listed");
        assert.ok(serials.includes(live.serial));
        assert.ok(!serials.includes(ended.serial), "expired, period over: not listed");
        assert.match(text, new RegExp(`Serial Number: ${inside.serial.toUpperCase()}[\\s\\S]*?Affiliation Changed`));
      }
    }
    const report = await withStatus.checkCoverage();
    assert.equal(report.ok, true, JSON.stringify(report.problems));
  });

  it("the coverage check agrees: a CRL that dropped the certificate at notAfter (+ look-back) is missing it", async () => {
    clock.set(new Date("2026-03-10T01:00:00Z"));
    await without.scheduler.runNow();
    const plain = await crlText("full");
    assert.ok(!plain.serials.includes(inside.serial));
    assert.equal(expiredCertsOnCrl(plain.text), undefined, "today's CRLs say nothing");
    const report = await withStatus.checkCoverage();
    assert.equal(report.ok, false);
    assert.deepEqual(report.problems.map((p) => [p.kind, p.serial]), [["missing", inside.serial]]);
    await withStatus.scheduler.runNow();
    assert.equal((await withStatus.checkCoverage()).ok, true);
  });

  it("after the cutoff: the entry is gone, the CRL still says from when it keeps expired certificates", async () => {
    clock.set(new Date("2026-04-30T15:00:00Z")); // May 1, 00:00 JST
    await withStatus.scheduler.runNow();
    const { text, serials } = await crlText("full");
    assert.ok(!serials.includes(inside.serial), "status after expiry over: not listed");
    assert.ok(serials.includes(live.serial));
    assert.match(expiredCertsOnCrl(text) ?? "", /Jan 31 15:00:00 2026 GMT|20260131150000Z/, text);
    assert.equal((await withStatus.checkCoverage()).ok, true);
  });
});
