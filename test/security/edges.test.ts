/**
 * Issue 12, hardened edges — the "smaller" row of the findings table, each as an attack on a running
 * service (HTTPS with client certificates, SoftHSM, embedded PGlite) that succeeded before issue 12:
 * missing Cache-Control: no-store, names outside JIS X 0208 with flag 0, a date of birth in 1800,
 * unknown top-level fields, an empty or non-JSON body answered 403, 405/404 not RFC 7807, /metrics on
 * the public port, TLS 1.2 CBC/CCM8/ARIA suites.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import forge from "node-forge";
import { request, requestJson, type HttpAnswer } from "../support/https-client.js";
import { repoRoot, startTestService, type TestService } from "../support/service-harness.js";

const jstToday = (): string => new Date(Date.now() + 9 * 3600_000).toISOString().slice(0, 10);
const NAME = "山田　太郎";
const ADDRESS = "東京都新宿区歌舞伎町一丁目４番１号";
const zeros = (s: string): string => "0".repeat([...s].length);

function csrOf(key: { publicKey: KeyObject; privateKey: KeyObject }): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(key.publicKey.export({ type: "spki", format: "pem" }).toString());
  csr.setSubject([{ name: "commonName", value: "JPKI card" }]);
  csr.sign(forge.pki.privateKeyFromPem(key.privateKey.export({ type: "pkcs1", format: "pem" }).toString()) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

function application(overrides: { resident?: Record<string, unknown>; top?: Record<string, unknown>; residentCode?: string; csr?: string } = {}): Record<string, unknown> {
  const year = Number(jstToday().slice(0, 4));
  return {
    municipalityCode: "131041",
    applicationDate: jstToday(),
    residentCode: overrides.residentCode ?? "55566677788",
    resident: {
      name: NAME,
      nameSubstituteFlags: zeros(NAME),
      alias: null,
      dateOfBirth: "1980-02-17",
      gender: 1,
      address: ADDRESS,
      addressSubstituteFlags: zeros(ADDRESS),
      cardExpiry: `${year + 10}-12-31`,
      residencePeriodEnd: null,
      underGuardianship: false,
      ...overrides.resident,
    },
    requests: [{ kind: "auth", csr: overrides.csr ?? "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n" }],
    ...overrides.top,
  };
}

/** An RFC 7807 problem with this status (and field), Cache-Control: no-store, and no personal data. */
function assertProblem(res: HttpAnswer, status: number, field?: string): Record<string, unknown> {
  const text = res.body.toString("utf8");
  assert.equal(res.status, status, text);
  assert.match(String(res.headers["content-type"]), /^application\/problem\+json/);
  const p = JSON.parse(text) as Record<string, unknown>;
  assert.equal(p.status, status);
  assert.equal(typeof p.type, "string");
  assert.equal(typeof p.title, "string");
  if (field !== undefined) assert.equal(p.field, field, text);
  for (const personal of ["山田", "太郎", "歌舞伎町", "😀", "𠮷"]) assert.ok(!text.includes(personal), `problem leaks ${personal}`);
  return p;
}

describe("security: hardened edges (issue 12)", function () {
  this.timeout(120_000);
  let t: TestService;
  let token: string;
  let idem = 0;
  const scratch = join(repoRoot, "var/test/security-edges");

  const issue = (body: string | Buffer | undefined, contentType: string | undefined, extra: Record<string, string> = {}): Promise<HttpAnswer> =>
    request(`${t.httpsUrl}/v1/issuances`, {
      method: "POST",
      tls: t.tls("terminal"),
      ...(body === undefined ? {} : { body }),
      headers: { Authorization: `Bearer ${token}`, "Idempotency-Key": `edges-${process.pid}-${++idem}`, ...(contentType ? { "content-type": contentType } : {}), ...extra },
    });
  const issueJson = (value: unknown): Promise<HttpAnswer> => issue(JSON.stringify(value), "application/json");

  before(async function () {
    t = await startTestService({ name: "sec-edges", engine: "pglite" });
    token = await t.login("terminal-operator", "terminal");
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(scratch, { recursive: true, mode: 0o700 });
  });

  after(async () => {
    rmSync(scratch, { recursive: true, force: true });
    await t?.close();
  });

  describe("bodies: 415 and 400 before any decision that depends on the body", () => {
    it("a text/plain body is 415 unsupported media type (was 403 'another municipality')", async () => {
      const p = assertProblem(await issue(JSON.stringify(application()), "text/plain"), 415, "body");
      assert.equal(p.type, "urn:jpki-ca:problem:unsupported-media-type");
    });

    it("a form-encoded body is 415, and so is a revocation with one", async () => {
      assertProblem(await issue("municipalityCode=131041", "application/x-www-form-urlencoded"), 415);
      const res = await request(`${t.httpsUrl}/v1/certificates/0102030405060708/revocation`, {
        method: "POST",
        tls: t.tls("terminal"),
        body: "reason=keyCompromise",
        headers: { Authorization: `Bearer ${token}`, "content-type": "application/x-www-form-urlencoded" },
      });
      assertProblem(res, 415);
    });

    it("an empty body is 400 naming the body (was 403)", async () => {
      assertProblem(await issue(undefined, undefined), 400, "body");
      assertProblem(await issue("", "application/json"), 400, "body");
      assertProblem(await issue("   ", "application/json"), 400, "body");
    });

    it("a body that is not JSON, or not UTF-8, is 400 naming the body", async () => {
      assertProblem(await issue("{not json", "application/json"), 400, "body");
      assertProblem(await issue(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), "application/json"), 400, "body");
    });

    it("a JSON body that is not an object is 400 (not an authorization answer)", async () => {
      assertProblem(await issueJson([1, 2]), 400);
      assertProblem(await issueJson("131041"), 400);
    });
  });

  describe("strict schemas: unknown fields refused at every level", () => {
    it("an unknown top-level field is 400 naming it", async () => {
      assertProblem(await issueJson(application({ top: { isAdmin: true } })), 400, "isAdmin");
    });
    it("an unknown resident field is 400 naming it", async () => {
      assertProblem(await issueJson(application({ resident: { nickname: "タロ" } })), 400, "resident.nickname");
    });
    it("an unknown field in a login body is 400", async () => {
      const res = await requestJson(`${t.httpsUrl}/v1/sessions`, "POST", { operatorId: "x", password: "y", role: "ca-admin" }, t.tls("terminal"));
      assertProblem(res, 400);
    });
  });

  describe("resident fields: JIS X 0208 and dates of birth", () => {
    for (const [char, label] of [["😀", "an emoji"], ["𠮷", "𠮷 (outside JIS X 0208)"]] as const) {
      it(`a name with ${label} and flag 0 is refused naming resident.name`, async () => {
        const name = `${char}田　太郎`;
        assertProblem(await issueJson(application({ resident: { name, nameSubstituteFlags: zeros(name) } })), 400, "resident.name");
      });
      it(`an address with ${label} and flag 0 is refused naming resident.address`, async () => {
        const address = `東京都${char}区`;
        assertProblem(await issueJson(application({ resident: { address, addressSubstituteFlags: zeros(address) } })), 400, "resident.address");
      });
    }
    it("a date of birth of 1800-01-01 is 422 naming resident.dateOfBirth", async () => {
      assertProblem(await issueJson(application({ resident: { dateOfBirth: "1800-01-01" } })), 422, "resident.dateOfBirth");
    });
  });

  describe("Cache-Control: no-store on every /v1 answer", () => {
    it("on the 201 of POST /v1/issuances and on GET /v1/certificates/{serial}", async () => {
      const key = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const res = await issueJson(application({ csr: csrOf(key), residentCode: "55566677701" }));
      assert.equal(res.status, 201, res.body.toString("utf8"));
      assert.equal(res.headers["cache-control"], "no-store");
      const serial = (res.json<{ certificates: Array<{ serialNumber: string }> }>().certificates[0]!).serialNumber;
      const got = await request(`${t.httpsUrl}/v1/certificates/${serial}`, { tls: t.tls("terminal"), headers: { Authorization: `Bearer ${token}` } });
      assert.equal(got.status, 200, got.body.toString("utf8"));
      assert.equal(got.headers["cache-control"], "no-store");
    });
    it("on problems, on a 404 under /v1, and under a /V1 spelling the router also matches", async () => {
      for (const res of [
        await issue("", "application/json"),
        await request(`${t.httpsUrl}/v1/certificates/0102030405060708`, { tls: t.tls("terminal"), headers: { Authorization: `Bearer ${token}` } }),
        await request(`${t.httpsUrl}/v1/no-such-route`, { tls: t.tls("terminal") }),
        await request(`${t.httpsUrl}/V1/certificates/0102030405060708`, { tls: t.tls("terminal"), headers: { Authorization: `Bearer ${token}` } }),
      ]) {
        assert.equal(res.headers["cache-control"], "no-store", `${res.status}`);
      }
    });
    it("leaves the relying parties' caching headers alone (CA certificate, CRL)", async () => {
      const ca = await request(`${t.httpUrl}/ca/auth-g1.crt`);
      assert.equal(ca.status, 200);
      assert.notEqual(ca.headers["cache-control"], "no-store");
    });
  });

  describe("RFC 7807 for 404 and 405", () => {
    it("a wrong method on a known route is 405 with Allow, as a problem", async () => {
      const res = await request(`${t.httpsUrl}/v1/issuances`, { method: "PUT", tls: t.tls("terminal"), headers: { Authorization: `Bearer ${token}` } });
      const p = assertProblem(res, 405);
      assert.equal(p.type, "urn:jpki-ca:problem:method-not-allowed");
      assert.match(String(res.headers.allow), /POST/);
      const health = await request(`${t.httpUrl}/healthz`, { method: "DELETE" });
      assertProblem(health, 405);
    });
    it("an unknown route is 404 as a problem, on both listeners", async () => {
      assertProblem(await request(`${t.httpUrl}/nope`), 404);
      assertProblem(await request(`${t.httpsUrl}/v1/nope`, { tls: t.tls("terminal") }), 404);
    });
  });

  describe("/metrics is not on the public port", () => {
    it("the public HTTP listener answers 404; the metrics listener (loopback) serves it", async () => {
      assertProblem(await request(`${t.httpUrl}/metrics`), 404);
      assert.match(t.metricsUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await request(`${t.metricsUrl}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.body.toString("utf8"), /^# TYPE ca_http_requests_total counter$/m);
      assertProblem(await request(`${t.metricsUrl}/healthz`), 404);
    });
  });

  describe("TLS: 1.2 with ECDHE + AEAD only, and 1.3", () => {
    let files: { cert: string; key: string; ca: string };
    let hostPort: string;
    before(() => {
      files = { cert: join(scratch, "terminal.pem"), key: join(scratch, "terminal.key"), ca: join(scratch, "tls-ca.pem") };
      writeFileSync(files.cert, t.demo.terminal.cert, { mode: 0o600 });
      writeFileSync(files.key, t.demo.terminal.key, { mode: 0o600 });
      writeFileSync(files.ca, t.demo.tlsCa, { mode: 0o600 });
      hostPort = new URL(t.httpsUrl).host;
    });

    /**
     * One handshake with the demo terminal's certificate; what openssl negotiated, or undefined.
     * Asynchronous: the service answers from this very process, so a spawnSync would deadlock it.
     */
    function handshake(args: string[]): Promise<{ cipher: string | undefined; output: string }> {
      return new Promise((resolve, reject) => {
        const child = spawn("openssl", ["s_client", "-connect", hostPort, "-servername", "localhost", "-cert", files.cert, "-key", files.key, "-CAfile", files.ca, ...args], { stdio: ["pipe", "pipe", "pipe"] });
        let output = "";
        child.stdout.on("data", (c: Buffer) => (output += c.toString("utf8")));
        child.stderr.on("data", (c: Buffer) => (output += c.toString("utf8")));
        const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
        child.on("error", reject);
        child.on("close", () => {
          clearTimeout(timer);
          const m = /Cipher is (\S+)/.exec(output);
          resolve({ cipher: m?.[1] && m[1] !== "(NONE)" ? m[1] : undefined, output });
        });
        child.stdin.end();
      });
    }

    for (const cipher of ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"]) {
      it(`accepts ${cipher} on TLS 1.2`, async () => {
        const r = await handshake(["-tls1_2", "-cipher", cipher]);
        assert.equal(r.cipher, cipher, r.output);
      });
    }
    // Offered alone by a client that allows them (@SECLEVEL=0): the server must refuse each.
    for (const cipher of ["AES128-SHA", "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES128-CCM8", "ECDHE-ECDSA-AES128-CCM", "ECDHE-ECDSA-ARIA128-GCM-SHA256", "ECDHE-ECDSA-CAMELLIA128-SHA256", "AES128-GCM-SHA256"]) {
      it(`refuses ${cipher} on TLS 1.2`, async () => {
        const r = await handshake(["-tls1_2", "-cipher", `${cipher}:@SECLEVEL=0`]);
        assert.equal(r.cipher, undefined, r.output);
        assert.doesNotMatch(r.output, /no cipher match/, "the client must have offered the suite");
        assert.match(r.output, /handshake failure|no shared cipher|alert/i, r.output);
      });
    }
    it("accepts TLS 1.3 and refuses its CCM_8 suite", async () => {
      const r = await handshake(["-tls1_3"]);
      assert.match(r.cipher ?? "", /^TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256)$/, r.output);
      assert.match(r.output, /TLSv1\.3/);
      const ccm8 = await handshake(["-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_8_SHA256"]);
      assert.equal(ccm8.cipher, undefined, ccm8.output);
    });
    it("refuses TLS 1.1", async () => {
      assert.equal((await handshake(["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"])).cipher, undefined);
    });
  });
});
