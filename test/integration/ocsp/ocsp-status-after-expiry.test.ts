import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { defaultStatusAfterExpiryPolicy, StatusAfterExpiry } from "../../../ca/revocation/status-after-expiry.js";
import { startOcspEndpoint, type OcspEndpoint } from "./ocsp-harness.js";

/**
 * Status after expiry over OCSP (docs/ocsp.md "Status after expiry"), with real PostgreSQL, the
 * responder key in SoftHSM, an injected clock, and `openssl ocsp` as the relying party. Default policy:
 * to the end of the third month after the month of expiry, JST.
 *
 * Two user-authentication certificates expire at 2026-01-31T14:59:59Z (23:59:59 JST, January); one was
 * revoked before. Their status cutoff is 2026-04-30T15:00:00Z (May 1, 00:00 JST).
 *
 * The responses are produced at the injected time, months before the real one, so openssl is told to
 * accept status times that far off (`-validity_period`); the signature is verified as usual.
 */
interface Run {
  code: number;
  out: string;
}
function openssl(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile("openssl", args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === "number" ? code : 1, out: `${stdout}\n${stderr}` });
    });
  });
}

const NOT_AFTER = new Date("2026-01-31T14:59:59Z");
const CUTOFF = new Date("2026-04-30T15:00:00Z");
/** About 3 years: the injected times are months from the real one. */
const FAR = "100000000";

describe("OCSP status after expiry, verified by openssl (PostgreSQL, SoftHSM, injected clock)", function () {
  this.timeout(90_000);
  let now = new Date("2026-01-20T00:00:00Z");
  const clock = { now: () => new Date(now.getTime()) };
  let e: OcspEndpoint;
  let good: { serial: string; pemFile: string };
  let revoked: { serial: string; pemFile: string };

  before(async function () {
    if (!process.env.DATABASE_URL) {
      if (process.env.CI === "true") throw new Error("DATABASE_URL is required (source var/test/services.env)");
      this.skip();
    }
    e = await startOcspEndpoint({ name: "ocsp-after-expiry", engine: "postgres", clock, ocsp: { afterExpiry: new StatusAfterExpiry(defaultStatusAfterExpiryPolicy) } });
    good = await e.issue({ notAfter: NOT_AFTER });
    revoked = await e.issue({ notAfter: NOT_AFTER });
    await e.revoke(revoked.serial, "revoked", "keyCompromise");
  });
  after(async () => {
    await e?.close();
  });

  const ask = (pemFile: string, extra: string[] = ["-no_nonce"]): Promise<Run> =>
    openssl(["ocsp", "-issuer", e.files.ca, "-cert", pemFile, "-url", `${e.url}/ocsp`, "-VAfile", e.files.responder, "-validity_period", FAR, "-resp_text", ...extra]);

  it("inside the period: good and revoked as recorded, each with archiveCutoff, stored and refreshed while asked", async () => {
    now = new Date("2026-03-10T00:00:00Z");
    const g = await ask(good.pemFile);
    assert.match(g.out, /Response verify OK/);
    assert.match(g.out, new RegExp(`${good.pemFile}: good`));
    // RFC 6960 §4.4.4: producedAt − retention; three JST month ends back from March 2026 is 2025-12-01 00:00 JST.
    assert.match(g.out, /OCSP Archive Cutoff:\s*\n?\s*Nov 30 15:00:00 2025 GMT/);
    assert.equal(g.code, 0);
    const r = await ask(revoked.pemFile);
    assert.match(r.out, /Response verify OK/);
    assert.match(r.out, new RegExp(`${revoked.pemFile}: revoked`));
    assert.match(r.out, /Reason: keyCompromise/);
    assert.match(r.out, /OCSP Archive Cutoff/);
    // A live answer (nonce) says the same.
    const live = await ask(revoked.pemFile, []);
    assert.match(live.out, /Response verify OK/);
    assert.match(live.out, new RegExp(`${revoked.pemFile}: revoked`));
    assert.match(live.out, /OCSP Archive Cutoff/);

    const stored = await e.store.get(good.serial, "sha1");
    assert.equal(stored?.certStatus, "good");
    assert.equal(stored?.nextUpdate.toISOString(), "2026-03-11T00:00:00.000Z");
  });

  it("near the cutoff: nextUpdate stops at the cutoff; the refresher keeps the asked response of the expired certificate", async () => {
    now = new Date("2026-04-30T13:00:00Z");
    const g = await ask(good.pemFile);
    assert.match(g.out, new RegExp(`${good.pemFile}: good`));
    assert.match(g.out, /Next Update: Apr 30 15:00:00 2026 GMT/);
    const stored = await e.store.get(good.serial, "sha1");
    assert.equal(stored?.nextUpdate.toISOString(), CUTOFF.toISOString());
    // Half-life of a 2 h response: due at 14:00. Asked within the window, inside the period: re-signed, not removed.
    now = new Date("2026-04-30T14:00:01Z");
    await e.ocsp.presigner.refreshDue();
    const refreshed = await e.store.get(good.serial, "sha1");
    assert.ok(refreshed, "the response of an expired certificate inside the period is kept");
    assert.equal(refreshed.certStatus, "good");
    assert.equal(refreshed.thisUpdate.toISOString(), "2026-04-30T14:00:01.000Z");
    assert.equal(refreshed.nextUpdate.toISOString(), CUTOFF.toISOString());
    // pkijs reads the singleExtension of the stored response as the same cutoff openssl printed.
    const basic = pkijs.BasicOCSPResponse.fromBER(pkijs.OCSPResponse.fromBER(refreshed.der.slice().buffer).responseBytes!.response.valueBlock.valueHexView.slice().buffer);
    const ext = basic.tbsResponseData.responses[0]!.singleExtensions![0]!;
    assert.equal(ext.extnID, "1.3.6.1.5.5.7.48.1.6");
    const cutoffTime = asn1js.fromBER(ext.extnValue.valueBlock.valueHexView.slice().buffer).result as asn1js.GeneralizedTime;
    // April 30, 23:00 JST: three month ends back is 2026-01-01 00:00 JST.
    assert.equal(cutoffTime.toDate().toISOString(), "2025-12-31T15:00:00.000Z");
  });

  it("after the cutoff: unknown for both (RFC 6960 §2.2, §4.4.4), with archiveCutoff after their notAfter; the stored response is dropped", async () => {
    now = new Date("2026-05-01T00:00:00Z");
    for (const c of [good, revoked]) {
      const r = await ask(c.pemFile);
      assert.match(r.out, /Response verify OK/);
      assert.match(r.out, new RegExp(`${c.pemFile}: unknown`));
      // May 2026 JST minus three month ends: 2026-02-01 00:00 JST, after the certificates' notAfter.
      assert.match(r.out, /OCSP Archive Cutoff:\s*\n?\s*Jan 31 15:00:00 2026 GMT/);
    }
    const live = await ask(good.pemFile, []);
    assert.match(live.out, new RegExp(`${good.pemFile}: unknown`));
    await e.ocsp.presigner.refreshDue();
    assert.equal(await e.store.get(good.serial, "sha1"), undefined, "an expired certificate's response leaves the refresh after the cutoff");
  });
});
