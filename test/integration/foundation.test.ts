import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { checkCaKeys, buildHandlers, serve } from "../../api/main.js";
import { OpenApiDocument } from "../../api/openapi.js";
import { loadHolidayCalendar } from "../../api/holiday-calendar.js";
import { CaError } from "../../ca/errors.js";
import { isWithinOperatingHours } from "../../ca/operators/operating-hours.js";
import type { CaGeneration } from "../../ca/types.js";
import { runCeremony } from "../../cli/ceremony.js";
import { request } from "../support/https-client.js";
import { repoRoot, startTestService, type TestService } from "../support/service-harness.js";
import { opensslOk, scratchDir } from "./x509/openssl.js";

/**
 * The service's foundation, end to end on one instance (SoftHSM token + embedded PGlite, the
 * `npm start` default): the ceremony is idempotent, start-up refuses a CA whose token key does not
 * match its certificate, and the relying-party/operations endpoints answer as docs/api.md §1–3 says.
 */
describe("foundation: init, start-up check, public endpoints (SoftHSM + PGlite)", function () {
  this.timeout(60_000);
  let t: TestService;

  before(async function () {
    this.timeout(120_000);
    t = await startTestService({ name: "e2e-foundation", engine: "pglite" });
  });
  after(async () => {
    await t?.close();
  });

  const rows = async (): Promise<CaGeneration[]> => [...(await t.service.stores.caGenerations.list())].sort((a, b) => a.id.localeCompare(b.id));

  /** Every file under the var dir's tls/ and demo/ folders, with its content. */
  async function stateFiles(): Promise<Map<string, string>> {
    const files = new Map<string, string>();
    for (const sub of ["tls", "demo"]) {
      const dir = join(t.config.varDir, sub);
      for (const f of await readdir(dir)) files.set(`${sub}/${f}`, await readFile(join(dir, f), "utf8"));
    }
    return files;
  }

  it("the first ceremony created both CA generations, the service CA, the TLS server and the demo credentials", () => {
    for (const made of ["sign-g1", "auth-g1", "service-ca", "tls-server", "demo/tls-ca.pem", "demo/terminal", "demo/operators.json", "demo/admin"]) {
      assert.ok(t.ceremony.created.includes(made), `created ${made}`);
    }
  });

  it("init twice changes nothing: created [] and byte-identical CA rows, certificates and files", async () => {
    const before = await rows();
    const filesBefore = await stateFiles();
    const lines: string[] = [];
    const second = await runCeremony(t.service, (l) => void lines.push(l));
    assert.deepEqual(second.created, []);
    const after = await rows();
    assert.deepEqual(after.map((g) => g.id), ["auth-g1", "sign-g1"]);
    assert.deepEqual(after, before);
    for (const [i, g] of after.entries()) {
      assert.equal(Buffer.compare(Buffer.from(g.certificate), Buffer.from(before[i]!.certificate)), 0, `${g.id} certificate bytes`);
    }
    assert.deepEqual(await stateFiles(), filesBefore);
    assert.ok(lines.some((l) => /sign-g1: exists/.test(l)));
  });

  it("refuses to start when a CA certificate in the database is for another key, naming the CA", async () => {
    const knex = t.service.db.knex;
    const original = await rows();
    const sign = original.find((g) => g.id === "sign-g1")!;
    const auth = original.find((g) => g.id === "auth-g1")!;
    await knex("ca_generations").where({ id: "sign-g1" }).update({ certificate: Buffer.from(auth.certificate) });
    try {
      const named = (e: unknown): boolean => e instanceof CaError && /sign-g1/.test(e.message) && /does not match/.test(e.message);
      await assert.rejects(checkCaKeys(t.service), named);
      await assert.rejects(serve(t.service), named);
    } finally {
      await knex("ca_generations").where({ id: "sign-g1" }).update({ certificate: Buffer.from(sign.certificate) });
    }
    // Restored: the check passes again, with one signer per active CA.
    assert.deepEqual([...(await checkCaKeys(t.service)).keys()].sort(), ["auth-g1", "sign-g1"]);
  });

  it("the demo terminal is open around the clock, to the last second of the day (a first run works at any hour)", async () => {
    const terminal = await t.service.stores.terminals.get("demo-terminal-1");
    assert.equal(terminal?.status, "active");
    const schedule = terminal?.operatingHours;
    assert.ok(schedule);
    const holidays = loadHolidayCalendar("config/holidays.json", repoRoot);
    // 2026-11-23 (JST) is a Monday and a national holiday; 2026-11-22 a Sunday.
    for (const jst of ["2026-11-23T00:00:00", "2026-11-23T12:00:00", "2026-11-23T23:59:00", "2026-11-23T23:59:30", "2026-11-22T23:59:59"]) {
      assert.equal(isWithinOperatingHours(new Date(`${jst}+09:00`), schedule, holidays), true, `open at ${jst} JST`);
    }
  });

  it("GET /ca lists sign-g1 and auth-g1, active", async () => {
    const res = await request(`${t.httpUrl}/ca`);
    assert.equal(res.status, 200);
    const cas = res.json<{ cas: Array<{ caId: string; kind: string; status: string; keyAlgorithm: string; certificateUrl: string }> }>().cas;
    const byId = new Map(cas.map((c) => [c.caId, c]));
    for (const [id, kind] of [["sign-g1", "sign"], ["auth-g1", "auth"]] as const) {
      const c = byId.get(id);
      assert.ok(c, id);
      assert.equal(c.kind, kind);
      assert.equal(c.status, "active");
      assert.equal(c.keyAlgorithm, "RSA-2048");
      assert.equal(c.certificateUrl, `/ca/${id}.crt`);
    }
  });

  it("GET /ca/sign-g1.crt is DER application/pkix-cert with the docs/domain.md §2 DN, and openssl parses it", async () => {
    const res = await request(`${t.httpUrl}/ca/sign-g1.crt`);
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "application/pkix-cert");
    assert.equal(res.body[0], 0x30, "DER SEQUENCE, not PEM");
    const stored = (await rows()).find((g) => g.id === "sign-g1")!;
    assert.equal(Buffer.compare(res.body, Buffer.from(stored.certificate)), 0);

    const s = scratchDir();
    try {
      const file = join(s.dir, "sign-g1.der");
      await writeFile(file, res.body);
      const out = opensslOk(["x509", "-inform", "DER", "-in", file, "-noout", "-subject", "-issuer", "-nameopt", "RFC2253"]);
      const dn = "OU=Japan Agency for Local Authority Information Systems,OU=JPKI for digital signature,O=JPKI,C=JP";
      assert.match(out, new RegExp(`^subject=${dn}$`, "m"));
      assert.match(out, new RegExp(`^issuer=${dn}$`, "m"), "self-signed");
    } finally {
      s.remove();
    }
    const auth = await request(`${t.httpUrl}/ca/auth-g1.crt`);
    assert.equal(auth.status, 200);
    assert.match(new X509Certificate(auth.body).subject, /OU=JPKI for user authentication/);
  });

  it("GET /ca/<unknown>.crt answers 404 problem", async () => {
    for (const path of ["/ca/sign-g9.crt", "/ca/nonsense.crt", "/ca/sign-g1.pem"]) {
      const res = await request(`${t.httpUrl}${path}`);
      assert.equal(res.status, 404, path);
      assert.match(String(res.headers["content-type"]), /^application\/problem\+json(;|$)/);
    }
  });

  it("/healthz 200; /readyz 200 with database and hsm ok", async () => {
    const h = await request(`${t.httpUrl}/healthz`);
    assert.equal(h.status, 200);
    assert.deepEqual(h.json(), { status: "ok" });
    const r = await request(`${t.httpUrl}/readyz`);
    assert.equal(r.status, 200);
    const body = r.json<{ status: string; checks: Array<{ name: string; ok: boolean }> }>();
    assert.equal(body.status, "ready");
    assert.deepEqual(body.checks.map((c) => [c.name, c.ok]).sort(), [["database", true], ["database-write", true], ["hsm", true], ["hsm-sign", true], ["ocsp-lag", true]]);
  });

  it("/metrics is not on the public HTTP listener (issue 12), and a 404 there is a problem document", async () => {
    const res = await request(`${t.httpUrl}/metrics`);
    assert.equal(res.status, 404);
    assert.match(String(res.headers["content-type"]), /^application\/problem\+json/);
  });

  it("/metrics on the metrics listener is Prometheus text with ca_hsm_sign_seconds", async () => {
    assert.match(t.metricsUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await request(`${t.metricsUrl}/metrics`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers["content-type"]), /^text\/plain/);
    const text = res.body.toString("utf8");
    assert.match(text, /^# TYPE ca_hsm_sign_seconds histogram$/m);
    // The ceremony signed the CA certificates with this very service's HSM.
    assert.match(text, /^ca_hsm_sign_seconds_count\{[^}]*\} [1-9]\d*$/m);
  });

  it("/openapi.json is OpenAPI 3.1 and documents every mounted /v1 route", async () => {
    const res = await request(`${t.httpUrl}/openapi.json`);
    assert.equal(res.status, 200);
    const doc = res.json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>();
    assert.match(doc.openapi, /^3\.1\.\d+$/);

    // What is really mounted: the routers the composition root builds, read from their layers.
    const { v1Routers } = await buildHandlers(t.service);
    const mounted = new Set<string>();
    for (const make of v1Routers) {
      for (const layer of make(new OpenApiDocument({ title: "x", version: "0" })).stack) {
        const path = `/v1${String(layer.path).replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`;
        for (const m of layer.methods) if (m !== "HEAD") mounted.add(`${m.toLowerCase()} ${path}`);
      }
    }
    assert.ok(mounted.size >= 5, `found the mounted routes (${[...mounted].join(", ")})`);
    const documented = new Set(
      Object.entries(doc.paths)
        .filter(([p]) => p.startsWith("/v1/"))
        .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)),
    );
    assert.deepEqual([...documented].sort(), [...mounted].sort());
    for (const must of ["post /v1/sessions", "delete /v1/sessions/current", "post /v1/operators/me/password", "post /v1/issuances", "get /v1/certificates/{serial}"]) {
      assert.ok(documented.has(must), must);
    }
  });

  it("an unknown route is a 404 problem on both listeners", async () => {
    const plain = await request(`${t.httpUrl}/no/such/route`);
    assert.equal(plain.status, 404);
    assert.match(String(plain.headers["content-type"]), /^application\/problem\+json(;|$)/);
    assert.deepEqual(plain.json(), { type: "urn:jpki-ca:problem:not-found", title: "Not found", status: 404, detail: "no such route" });
    const secure = await request(`${t.httpsUrl}/v1/no-such-route`, { tls: t.tls("terminal") });
    assert.equal(secure.status, 404);
    assert.equal(secure.json<{ type: string }>().type, "urn:jpki-ca:problem:not-found");
  });

  it("/v1 routes on the plain HTTP listener answer 401 problem (no client certificate there)", async () => {
    const res = await request(`${t.httpUrl}/v1/sessions`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    assert.equal(res.status, 401);
    assert.equal(res.json<{ type: string }>().type, "urn:jpki-ca:problem:unauthenticated");
  });
});
