import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { derInteger, derNull, derOctetString, derSequence } from "../../../ca/x509/der.js";
import { buildRequest, certIdOf } from "../../unit/ocsp/fixtures.js";
import { readResponse } from "../../unit/ocsp/read-response.js";
import { startOcspEndpoint, TEST_API_KEY, type OcspEndpoint } from "./ocsp-harness.js";

/**
 * `openssl ocsp` as the relying party against a running endpoint (Koa app, real listener, SoftHSM
 * responder key, PGlite): good, revoked, hold, unknown issuer, never issued; nonce and no nonce;
 * POST and GET; verified with -VAfile (the responder certificate) and -CAfile (through the delegated
 * responder). Hostile requests get OCSP error statuses and the endpoint keeps answering.
 * `openssl ocsp` runs here only as a client: it binds nothing.
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

async function fetchBytes(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: Uint8Array }> {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, body: new Uint8Array(await res.arrayBuffer()) };
}

// Through the Koa routes, and through the fast path the listeners put before Koa (where a URL answered
// before is answered again from memory while its response stands: a revocation must end that at once).
for (const fastPath of [false, true])
describe(`OCSP endpoint with openssl as the client${fastPath ? ", GET through the fast path" : ""}`, function () {
  this.timeout(60_000);
  let e: OcspEndpoint;
  let good: { serial: string; pemFile: string };

  before(async () => {
    e = await startOcspEndpoint({ name: fastPath ? "ocsp-openssl-fast" : "ocsp-openssl", fastPath });
    good = await e.issue();
  });
  after(async () => {
    await e?.close();
  });

  const post = (cert: string[], extra: string[] = []): Promise<Run> => openssl(["ocsp", "-issuer", e.files.ca, ...cert, "-url", `${e.url}/ocsp`, ...extra]);

  it("good, POST, with nonce, verified with -VAfile", async () => {
    const r = await post(["-cert", good.pemFile], ["-VAfile", e.files.responder]);
    assert.match(r.out, /Response verify OK/);
    assert.match(r.out, new RegExp(`${good.pemFile}: good`));
    assert.equal(r.code, 0);
  });

  it("good, POST, without nonce, verified with -CAfile through the delegated responder", async () => {
    const r = await post(["-cert", good.pemFile], ["-CAfile", e.files.ca, "-no_nonce", "-resp_text"]);
    assert.match(r.out, /Response verify OK/);
    assert.match(r.out, /: good/);
    assert.match(r.out, /Responder Id: [0-9A-F]{40}/); // byKey
    assert.match(r.out, /OCSP Signing/);
    assert.match(r.out, /OCSP No Check/);
  });

  it("GET with RFC 5019 headers (max-age capped at 1 h), signed on the first request then served stored, verified by openssl with -CAfile and -VAfile", async () => {
    const reqFile = join(e.dir, "get-req.der");
    const respFile = join(e.dir, "get-resp.der");
    const made = await openssl(["ocsp", "-issuer", e.files.ca, "-cert", good.pemFile, "-no_nonce", "-reqout", reqFile]);
    assert.equal(made.code, 0, made.out);
    const b64 = readFileSync(reqFile).toString("base64");
    // Nothing is signed at issuance (docs/ocsp.md "Demand-driven responses"): the first request signs and stores.
    const unasked = await e.issue();
    await new Promise((r) => setTimeout(r, 600)); // three outbox periods
    assert.equal(await e.store.get(unasked.serial, "sha1"), undefined, "no response for a certificate nobody asked about");
    assert.equal((await fetchBytes(`${e.url}/ocsp/${encodeURIComponent(b64)}`)).status, 200);
    assert.ok((await e.store.get(good.serial, "sha1")) !== undefined, "the first request stored its response");
    const hitsBefore = e.metrics.hits;
    for (const path of [encodeURIComponent(b64), b64]) {
      const res = await fetchBytes(`${e.url}/ocsp/${path}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/ocsp-response");
      const cc = res.headers.get("cache-control")!;
      const maxAge = Number(/max-age=(\d+)/.exec(cc)![1]);
      assert.ok(maxAge > 3500 && maxAge <= 3600, cc); // ocsp.maxCacheSeconds, not the 24 h to nextUpdate
      assert.match(cc, /public, no-transform, must-revalidate/);
      assert.match(res.headers.get("etag")!, /^"[0-9a-f]{40}"$/);
      const r = readResponse(res.body);
      assert.equal(new Date(res.headers.get("last-modified")!).getTime(), r.responses[0]!.thisUpdate.getTime());
      const expires = new Date(res.headers.get("expires")!).getTime();
      assert.ok(expires <= Date.now() + 3601_000 && expires < r.responses[0]!.nextUpdate!.getTime(), res.headers.get("expires")!);
      writeFileSync(respFile, res.body);
      // 304 on If-None-Match. A background re-sign (the pre-signer catching up) may replace the response
      // between two requests; then the answer is a 200 with the new ETag, which must itself give a 304.
      let etag = res.headers.get("etag")!;
      let again = await fetch(`${e.url}/ocsp/${path}`, { headers: { "If-None-Match": etag } });
      for (let i = 0; i < 3 && again.status === 200 && again.headers.get("etag") !== etag; i++) {
        etag = again.headers.get("etag")!;
        again = await fetch(`${e.url}/ocsp/${path}`, { headers: { "If-None-Match": etag } });
      }
      assert.equal(again.status, 304);
    }
    assert.ok(e.metrics.hits >= hitsBefore + 4, "served pre-signed");
    for (const trust of [["-CAfile", e.files.ca], ["-VAfile", e.files.responder]]) {
      const v = await openssl(["ocsp", "-issuer", e.files.ca, "-cert", good.pemFile, "-respin", respFile, "-no_nonce", ...trust]);
      assert.match(v.out, /Response verify OK/);
      assert.match(v.out, /: good/);
    }
  });

  it("a revocation is served within 1 second, with time and reason", async () => {
    const c = await e.issue();
    const get = `${e.url}/ocsp/${encodeURIComponent(Buffer.from(buildRequest([certIdOf(e.t, c.serial)])).toString("base64"))}`;
    for (let i = 0; i < 3; i++) assert.equal(readResponse((await fetchBytes(get)).body).responses[0]!.status, "good");
    const started = performance.now();
    await e.revoke(c.serial, "revoked", "keyCompromise");
    let status = "good";
    let elapsed = 0;
    while (status === "good" && (elapsed = performance.now() - started) < 3000) {
      status = readResponse((await fetchBytes(get)).body).responses[0]!.status;
      if (status === "good") await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(status, "revoked");
    assert.ok(elapsed < 1000, `revocation visible after ${Math.round(elapsed)} ms`);
    console.log(`      (revocation visible after ${Math.round(elapsed)} ms)`);
    const r = await post(["-cert", c.pemFile], ["-VAfile", e.files.responder]);
    assert.match(r.out, new RegExp(`${c.pemFile}: revoked`));
    assert.match(r.out, /Reason: keyCompromise/);
    assert.match(r.out, /Revocation Time:/);
    assert.match(r.out, /Response verify OK/);
  });

  it("a hold is revoked with reason certificateHold", async () => {
    const c = await e.issue();
    await e.revoke(c.serial, "hold", "certificateHold");
    const r = await post(["-cert", c.pemFile], ["-CAfile", e.files.ca]);
    assert.match(r.out, new RegExp(`${c.pemFile}: revoked`));
    assert.match(r.out, /Reason: certificateHold/);
  });

  it("a serial never issued is revoked/certificateHold at 1970 with the extended revoke extension", async () => {
    const r = await post(["-serial", "0x01c0ffee00000000000000000000beef"], ["-VAfile", e.files.responder, "-resp_text"]);
    assert.match(r.out, /Response verify OK/);
    assert.match(r.out, /: revoked/);
    assert.match(r.out, /Reason: certificateHold/);
    assert.match(r.out, /Revocation Time: Jan {1,2}1 00:00:00 1970 GMT/);
    assert.match(r.out, /Response Extensions:[\s\S]*\bvalid: /); // openssl's name for id-pkix-ocsp-extended-revoke
  });

  it("an issuer we do not serve is unauthorized", async () => {
    const r = await openssl(["ocsp", "-issuer", e.files.otherCa, "-serial", "0x0102", "-url", `${e.url}/ocsp`, "-VAfile", e.files.responder]);
    assert.match(r.out, /Responder Error: unauthorized \(6\)/);
  });

  it("truncated, garbage, oversized, unknown-hash, 21- and 1,000-CertID requests get OCSP errors; the endpoint stays up", async () => {
    const ok = buildRequest([certIdOf(e.t, good.serial)]);
    const h20 = derOctetString(new Uint8Array(20));
    const md5 = Uint8Array.of(0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05);
    const bodies: Array<[string, Uint8Array, number]> = [
      ["truncated", ok.subarray(0, ok.length - 3), 1],
      ["garbage", new Uint8Array(Buffer.from("hello, responder")), 1],
      ["empty", new Uint8Array(0), 1],
      ["oversized", new Uint8Array(200_000).fill(0x30), 1],
      ["unknown hash", buildRequest([derSequence(derSequence(md5, derNull()), h20, h20, derInteger(1n))]), 1],
      ["21 CertIDs", buildRequest(Array(21).fill(certIdOf(e.t, good.serial))), 1],
      ["1,000 CertIDs", buildRequest(Array(1000).fill(certIdOf(e.t, good.serial))), 1],
    ];
    for (const [name, body, status] of bodies) {
      const res = await fetchBytes(`${e.url}/ocsp`, { method: "POST", headers: { "Content-Type": "application/ocsp-request" }, body: Buffer.from(body) });
      assert.equal(res.status, 200, name);
      assert.equal(readResponse(res.body).status, status, name);
      assert.equal(res.headers.get("cache-control"), "no-store", name);
    }
    for (const path of ["", "%%%", "not*base64", encodeURIComponent(Buffer.from(ok.subarray(0, 10)).toString("base64")), "A".repeat(60_000)]) {
      const res = await fetchBytes(`${e.url}/ocsp/${path}`);
      if (res.status === 200) assert.equal(readResponse(res.body).status, 1, path.slice(0, 20));
      else assert.ok(res.status === 431 || res.status === 414, `${res.status}`); // Node refuses huge request lines itself
    }
    const r = await post(["-cert", good.pemFile], ["-VAfile", e.files.responder]);
    assert.match(r.out, /: good/);
  });

  it("counts responses, hits and signatures in the metrics port", async () => {
    await e.ocsp.presigner.reportAge();
    assert.ok((e.metrics.responses.get("good") ?? 0) >= 4);
    assert.ok((e.metrics.responses.get("revoked") ?? 0) >= 2);
    assert.ok((e.metrics.responses.get("malformedRequest") ?? 0) >= 7);
    assert.ok((e.metrics.responses.get("unauthorized") ?? 0) >= 1);
    assert.ok((e.metrics.signatures.get("first-request") ?? 0) >= 2);
    assert.ok((e.metrics.signatures.get("status-change") ?? 0) >= 1, "the revocation of an asked certificate");
    assert.ok((e.metrics.signatures.get("live") ?? 0) >= 2);
    assert.ok(e.metrics.oldestAge >= 0 && e.metrics.oldestAge < 120);
  });
});

describe("OCSP endpoint in registered mode, GET through the fast path", function () {
  this.timeout(60_000);
  let e: OcspEndpoint;
  let good: { serial: string; pemFile: string };
  before(async () => {
    e = await startOcspEndpoint({ name: "ocsp-registered", mode: "registered", fastPath: true });
    good = await e.issue();
  });
  after(async () => {
    await e?.close();
  });

  it("without a credential, or with a wrong one: unauthorized, nothing recorded", async () => {
    for (const extra of [[], ["-header", `Authorization=Bearer rp_${"B".repeat(43)}`]]) {
      const r = await openssl(["ocsp", "-issuer", e.files.ca, "-cert", good.pemFile, "-url", `${e.url}/ocsp`, "-VAfile", e.files.responder, ...extra]);
      assert.match(r.out, /Responder Error: unauthorized \(6\)/);
    }
  });

  it("with the API key: answered (POST and GET), every answer recorded in batches; caches are private", async () => {
    const r = await openssl(["ocsp", "-issuer", e.files.ca, "-cert", good.pemFile, "-url", `${e.url}/ocsp`, "-VAfile", e.files.responder, "-header", `Authorization=Bearer ${TEST_API_KEY}`]);
    assert.match(r.out, /: good/);
    assert.match(r.out, /Response verify OK/);
    const get = `${e.url}/ocsp/${encodeURIComponent(Buffer.from(buildRequest([certIdOf(e.t, good.serial), certIdOf(e.t, "01ff")])).toString("base64"))}`;
    const res = await fetchBytes(get, { headers: { Authorization: `Bearer ${TEST_API_KEY}` } });
    assert.equal(readResponse(res.body).status, 0);
    const single = `${e.url}/ocsp/${encodeURIComponent(Buffer.from(buildRequest([certIdOf(e.t, good.serial)])).toString("base64"))}`;
    const one = await fetchBytes(single, { headers: { Authorization: `Bearer ${TEST_API_KEY}` } });
    assert.match(one.headers.get("cache-control")!, /^max-age=\d+, private, no-transform, must-revalidate$/);
    assert.equal(one.headers.get("content-type"), "application/ocsp-response");
    assert.match(one.headers.get("etag")!, /^"[0-9a-f]{40}"$/);
    assert.equal((await fetch(single, { headers: { Authorization: `Bearer ${TEST_API_KEY}`, "If-None-Match": one.headers.get("etag")! } })).status, 304);
    assert.equal(readResponse((await fetchBytes(single)).body).status, 6, "no credential: unauthorized on the fast path too");
    await fetchBytes(`${e.url}/ocsp`, { method: "POST", body: Buffer.from([1, 2, 3]), headers: { Authorization: `Bearer ${TEST_API_KEY}` } });
    let log: Awaited<ReturnType<typeof e.store.accessLogOf>> = [];
    for (let i = 0; i < 40 && log.length < 6; i++) {
      await new Promise((r) => setTimeout(r, 50));
      log = await e.store.accessLogOf("rp-test");
    }
    assert.deepEqual(
      log.map((l) => [l.serial, l.answer]),
      [
        [good.serial, "good"],
        [good.serial, "good"],
        ["01ff", "revoked"],
        [good.serial, "good"],
        [good.serial, "good"],
        [null, "malformedRequest"],
      ],
    );
    assert.ok(log.every((l) => l.caId === null || l.caId === "auth-g1"));
  });

  it("a party's repeated GETs: each answered and recorded, a wrong key refused, a revocation served within 1 second", async () => {
    const c = await e.issue();
    const url = `${e.url}/ocsp/${encodeURIComponent(Buffer.from(buildRequest([certIdOf(e.t, c.serial)])).toString("base64"))}`;
    const withKey = { headers: { Authorization: `Bearer ${TEST_API_KEY}` } };
    for (let i = 0; i < 5; i++) {
      const r = await fetchBytes(url, withKey);
      assert.equal(readResponse(r.body).responses[0]!.status, "good");
      assert.match(r.headers.get("cache-control")!, /, private,/);
    }
    // A URL answered before, asked with a wrong key or none: refused, not repeated.
    assert.equal(readResponse((await fetchBytes(url, { headers: { Authorization: `Bearer rp_${"C".repeat(43)}` } })).body).status, 6);
    assert.equal(readResponse((await fetchBytes(url)).body).status, 6);
    const started = performance.now();
    await e.revoke(c.serial, "revoked", "keyCompromise");
    let status = "good";
    let asked = 0;
    while (status === "good" && performance.now() - started < 3000) {
      status = readResponse((await fetchBytes(url, withKey)).body).responses[0]!.status;
      asked++;
      if (status === "good") await new Promise((r) => setTimeout(r, 25));
    }
    const elapsed = performance.now() - started;
    assert.equal(status, "revoked");
    assert.ok(elapsed < 1000, `revocation visible after ${Math.round(elapsed)} ms`);
    let log: Awaited<ReturnType<typeof e.store.accessLogOf>> = [];
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 50));
      log = (await e.store.accessLogOf("rp-test", 10_000)).filter((l) => l.serial === c.serial);
      if (log.length >= 5 + asked) break;
    }
    const answers = log.map((l) => l.answer);
    assert.equal(answers.length, 5 + asked, "every answer to the party recorded, the refused ones not");
    assert.deepEqual(answers.slice(0, 5 + asked - 1), Array(5 + asked - 1).fill("good"));
    assert.equal(answers.at(-1), "revoked");
    assert.ok(log.every((l) => l.caId === "auth-g1" && l.party === "rp-test"));
  });
});
