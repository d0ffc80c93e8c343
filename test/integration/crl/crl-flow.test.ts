import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { FixedClock } from "../../../ca/ports.js";
import { pem } from "../../../ca/x509/pem.js";
import type { CrlKind } from "../../../ca/revocation/crl-ports.js";
import { crlEntrySerials } from "../../../crl/crl-reader.js";
import { openDatabase, type Database } from "../../../db/database.js";
import { publicBaseUrl } from "../../support/end-entity-fixtures.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase, type TestEngine } from "../../support/database.js";
import { createCrlWorld, type CrlWorld, type IssuedTestCertificate } from "../../support/crl-world.js";
import { openssl, opensslOk, scratchDir } from "../x509/openssl.js";

const DAY = 86_400_000;

/**
 * The CRL part end to end on a real database: issued certificates, revocations through the outbox,
 * the scheduler, openssl as the relying party (crl -verify, crl -text, verify -crl_check with and
 * without deltas), the coverage check, and CRL numbers across a restart.
 */
function crlFlowSuite(engine: TestEngine): void {
  describe(`CRL flow on ${engine}`, function () {
    this.timeout(60_000);
    let t: TestDatabase;
    let world: CrlWorld;
    let crl: ReturnType<CrlWorld["crl"]>;
    let clock: FixedClock;
    let dir: ReturnType<typeof scratchDir>;
    let caPem: string;
    const certs: IssuedTestCertificate[] = [];
    let expiredLongAgo: IssuedTestCertificate;
    let expiredRecently: IssuedTestCertificate;
    const now = new Date();

    const crlFile = async (partition: number, kind: CrlKind): Promise<string> => {
      const c = await crl.store.publishedDer({ caId: world.caId, partition }, kind);
      assert.ok(c, `no ${kind} CRL for partition ${partition}`);
      const file = join(dir.dir, `${partition}-${kind}-${c.info.number}.pem`);
      writeFileSync(file, pem(c.der, "X509 CRL"));
      return file;
    };
    const certFile = (c: IssuedTestCertificate): string => {
      const file = join(dir.dir, `${c.serial}.pem`);
      writeFileSync(file, pem(c.der, "CERTIFICATE"));
      return file;
    };
    const verify = async (c: IssuedTestCertificate, deltas: boolean): Promise<{ status: number; out: string }> => {
      const crlArgs = ["-CRLfile", await crlFile(c.partition, "full"), ...(deltas ? ["-use_deltas", "-CRLfile", await crlFile(c.partition, "delta")] : [])];
      return openssl(["verify", "-crl_check", "-CAfile", caPem, ...crlArgs, certFile(c)]);
    };
    const hexOf = (serial: string): string => serial.toUpperCase();

    before(async function () {
      if (engine === "postgres") requirePostgresUrl(this);
      dir = scratchDir();
      t = await openTestDatabase(engine, engine === "pglite" ? { dataDir: join(dir.dir, "pglite") } : {});
      world = await createCrlWorld(t.db, { partitionCount: 4 });
      clock = new FixedClock(now);
      crl = world.crl(t.db, { clock });
      caPem = join(dir.dir, "ca.pem");
      writeFileSync(caPem, pem(world.ca.certificate, "CERTIFICATE"));
      for (let i = 0; i < 10; i++) certs.push(await world.issue());
      await world.revoke(certs[0]!.serial, "keyCompromise", new Date(now.getTime() - 3_600_000), new Date("2026-11-20T00:00:00Z"));
      await world.revoke(certs[1]!.serial, "unspecified", new Date(now.getTime() - 3_600_000));
      await world.hold(certs[2]!.serial, new Date(now.getTime() - 3_600_000));
      await world.revoke(certs[3]!.serial, "affiliationChanged", new Date(now.getTime() - 3_600_000));
      // Past notAfter: beyond the 7-day look-back (dropped) and within it (kept).
      expiredLongAgo = await world.issue({ notAfter: new Date(now.getTime() - 30 * DAY), notBefore: new Date(now.getTime() - 60 * DAY) });
      expiredRecently = await world.issue({ notAfter: new Date(now.getTime() - 2 * DAY), notBefore: new Date(now.getTime() - 60 * DAY) });
      await world.revoke(expiredLongAgo.serial, "superseded", new Date(now.getTime() - 40 * DAY));
      await world.revoke(expiredRecently.serial, "superseded", new Date(now.getTime() - 40 * DAY));
    });
    after(async () => {
      await crl?.scheduler.stop();
      await t?.close();
      dir?.remove();
    });

    it("issues a full and a delta CRL for every partition, each verified by openssl", async () => {
      const report = await crl.scheduler.runNow();
      assert.deepEqual(report.partitions.map((p) => p.outcome), ["issued", "issued", "issued", "issued"]);
      for (let partition = 0; partition < 4; partition++) {
        for (const kind of ["full", "delta"] as const) {
          const r = openssl(["crl", "-in", await crlFile(partition, kind), "-CAfile", caPem, "-noout", "-verify"]);
          assert.equal(r.status, 0, r.out);
          assert.match(r.out, /verify OK/);
        }
        const full = opensslOk(["crl", "-in", await crlFile(partition, "full"), "-noout", "-text"]);
        assert.match(full, /Version 2 \(0x1\)/);
        assert.match(full, /X509v3 Issuing Distribution Point: critical\s+Full Name:\s+URI:(\S+)\s+Only User Certificates/);
        assert.equal(/Full Name:\s+URI:(\S+)/.exec(full)![1], `${publicBaseUrl}/crl/sign-g1/${partition}.crl`);
        assert.match(full, new RegExp(`X509v3 Freshest CRL:\\s+Full Name:\\s+URI:${publicBaseUrl}/crl/sign-g1/${partition}-delta.crl`));
        assert.match(full, /X509v3 Authority Key Identifier/);
        const delta = opensslOk(["crl", "-in", await crlFile(partition, "delta"), "-noout", "-text"]);
        const fullNumber = (await crl.store.published({ caId: world.caId, partition }, "full"))!.number;
        assert.match(delta, new RegExp(`X509v3 Delta CRL Indicator: critical\\s+${fullNumber}\\b`));
        assert.match(delta, /X509v3 Issuing Distribution Point: critical/);
        assert.doesNotMatch(delta, /Freshest CRL/);
        // nextUpdate ≤ 24 h after thisUpdate (docs/domain.md §4)
        const info = (await crl.store.published({ caId: world.caId, partition }, "full"))!;
        assert.equal(info.nextUpdate.getTime() - info.thisUpdate.getTime(), DAY);
      }
    });

    it("lists each revocation with its reason and invalidity date, holds as Certificate Hold, expired entries only within the look-back", async () => {
      const text = async (c: IssuedTestCertificate): Promise<string> => {
        const all = opensslOk(["crl", "-in", await crlFile(c.partition, "full"), "-noout", "-text"]);
        const at = all.indexOf(`Serial Number: ${hexOf(c.serial)}`);
        if (at < 0) return "";
        const next = all.indexOf("Serial Number:", at + 10);
        return all.slice(at, next < 0 ? all.indexOf("Signature Algorithm", at) : next);
      };
      assert.match(await text(certs[0]!), /Key Compromise[\s\S]*Invalidity Date:\s+Nov 20 00:00:00 2026 GMT/);
      const unspecified = await text(certs[1]!);
      assert.ok(unspecified.length > 0, "unspecified revocation listed");
      assert.doesNotMatch(unspecified, /Reason Code/); // RFC 5280 §5.3.1: omitted for unspecified
      assert.match(await text(certs[2]!), /Certificate Hold/);
      assert.match(await text(certs[3]!), /Affiliation Changed/);
      assert.equal(await text(certs[4]!), "");
      assert.ok((await text(expiredRecently)).length > 0, "expired within the look-back stays");
      assert.equal(await text(expiredLongAgo), "", "expired beyond the look-back is dropped");
    });

    it("openssl verify -crl_check refuses revoked and held certificates and accepts good ones", async () => {
      for (const [c, expected] of [
        [certs[0]!, "certificate revoked"],
        [certs[1]!, "certificate revoked"],
        [certs[2]!, "certificate revoked"],
        [certs[4]!, null],
        [certs[5]!, null],
      ] as const) {
        const r = await verify(c, false);
        if (expected === null) assert.equal(r.status, 0, r.out);
        else {
          assert.notEqual(r.status, 0, r.out);
          assert.match(r.out, new RegExp(expected));
        }
      }
    });

    it("puts a later revocation into the partition's delta CRL from the outbox, which openssl applies with -use_deltas", async () => {
      const target = certs[6]!;
      const before = await crl.store.states(world.caId);
      clock.advance(5_000);
      await world.revoke(target.serial, "cessationOfOperation", clock.now());
      const report = await crl.scheduler.tick();
      assert.deepEqual(report.partitions.map((p) => [p.partition, p.outcome]), [[target.partition, "issued"]]);
      const after = await crl.store.states(world.caId);
      for (const s of after) {
        const b = before.find((x) => x.partition === s.partition)!;
        assert.equal(s.full!.number, b.full!.number, "no new full CRL");
        if (s.partition === target.partition) {
          assert.ok(s.delta!.number > b.delta!.number);
          assert.equal(s.delta!.baseNumber, s.full!.number);
          assert.equal(s.changedAt, null);
        } else assert.equal(s.delta!.number, b.delta!.number);
      }
      const delta = await crl.store.publishedDer({ caId: world.caId, partition: target.partition }, "delta");
      assert.ok([...crlEntrySerials(delta!.der)].includes(target.serial));
      assert.equal((await verify(target, false)).status, 0, "the full CRL alone does not list it yet");
      const withDelta = await verify(target, true);
      assert.notEqual(withDelta.status, 0, withDelta.out);
      assert.match(withDelta.out, /certificate revoked/);
    });

    it("coverage: passes, finds a revoked certificate in no CRL, and stale CRLs", async () => {
      const ok = await crl.checkCoverage();
      assert.equal(ok.ok, true, JSON.stringify(ok.problems));
      assert.equal(ok.partitions, 4);
      assert.equal(ok.revoked, 5); // certs 0, 1, 2 (hold), 3, 6; expired ones are not "unexpired"
      assert.equal(ok.pending, 0);
      // A revocation written behind the worker's back (no outbox row), before the latest CRL was read.
      const lost = certs[7]!;
      await t.db.knex("certificates").where({ serial: lost.serial }).update({
        status: "revoked",
        revocation_reason: "superseded",
        revoked_at: now,
        updated_at: t.db.knex.raw("now() - interval '1 day'"),
      });
      const bad = await crl.checkCoverage();
      assert.equal(bad.ok, false);
      assert.equal(bad.missing, 1);
      assert.deepEqual(bad.problems.map((p) => [p.kind, p.serial]), [["missing", lost.serial]]);
      await crl.scheduler.runNow(world.caId);
      assert.equal((await crl.checkCoverage()).ok, true);
      // Two days later every CRL is past its nextUpdate.
      const later = world.crl(t.db, { clock: new FixedClock(new Date(clock.now().getTime() + 2 * DAY)) });
      const stale = await later.checkCoverage();
      assert.equal(stale.stale, 8);
      assert.equal(stale.ok, false);
    });

    it("re-issues on its own once started (timer), before half the full CRL's validity has elapsed", async () => {
      const before = await crl.store.states(world.caId);
      const later = world.crl(t.db, { clock: new FixedClock(new Date(clock.now().getTime() + 12 * 3_600_000 + 1_000)), settings: { tickSeconds: 1 } });
      later.scheduler.start();
      try {
        const deadline = Date.now() + 20_000;
        let states = before;
        while (Date.now() < deadline) {
          states = await later.store.states(world.caId);
          if (states.every((s, i) => s.full!.number > before[i]!.delta!.number)) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        assert.ok(states.every((s, i) => s.full!.number > before[i]!.delta!.number), "every partition got a new full CRL");
      } finally {
        await later.scheduler.stop();
      }
      assert.equal((await later.scheduler.tick()).partitions.length, 0, "nothing due right after");
    });

    it("keeps CRL numbers increasing across a restart", async function () {
      const before = await crl.store.states(world.caId);
      await crl.scheduler.stop();
      let db: Database;
      if (engine === "postgres") {
        db = await openDatabase({ url: t.url! });
      } else {
        await t.db.close();
        db = await openDatabase({ dataDir: join(dir.dir, "pglite") });
        t = { ...t, db, close: () => db.close() };
      }
      try {
        const restarted = world.crl(db, { clock: new FixedClock(new Date(clock.now().getTime() + 60_000)) });
        await restarted.scheduler.runNow();
        for (const s of await restarted.store.states(world.caId)) {
          const b = before.find((x) => x.partition === s.partition)!;
          assert.ok(s.full!.number > b.delta!.number, `partition ${s.partition}: ${s.full!.number} > ${b.delta!.number}`);
          assert.ok(s.delta!.number > s.full!.number);
        }
      } finally {
        if (engine === "postgres") await db.close();
      }
    });
  });
}

crlFlowSuite("pglite");
crlFlowSuite("postgres");
