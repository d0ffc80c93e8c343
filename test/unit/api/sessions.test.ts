import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import https from "node:https";
import Router from "@koa/router";
import { createApp } from "../../../api/app.js";
import { listen, type Listeners } from "../../../api/listeners.js";
import { createLogger } from "../../../api/logger.js";
import { Metrics } from "../../../api/metrics.js";
import { requireOperator } from "../../../api/operator-session.js";
import { sessionRoutes } from "../../../api/routes/sessions.js";
import { OperatorAuth } from "../../../ca/operators/operator-auth.js";
import { parseHolidayCalendar } from "../../../ca/operators/operating-hours.js";
import { ScryptPasswordHasher } from "../../../ca/operators/password-hash.js";
import { FixedClock, type Random } from "../../../ca/ports.js";
import { buildClientCertificate, buildServerCertificate, buildServiceCaCertificate } from "../../../ca/operators/service-ca.js";
import { TerminalRegistry } from "../../../ca/operators/terminal-registry.js";
import { pem } from "../../../ca/x509/pem.js";
import { MemorySigner } from "../../../hsm/memory-signer.js";
import { createMemoryOperatorStores } from "../../support/memory-operator-stores.js";
import { certificateFingerprint } from "../../../ca/operators/certificate-fingerprint.js";
import { fromPem } from "../../../ca/x509/pem.js";
import { MemoryClientCertificateStore } from "../../support/memory-client-certificates.js";

const random: Random = { bytes: (n) => new Uint8Array(randomBytes(n)) };
const T0 = new Date("2026-11-24T00:30:00Z"); // Tuesday 09:30 JST
const GOOD = "Kq7#mZp2xW9v";
const NEW = "Hv4!tRn8sLq2";

interface Credentials {
  readonly cert: string;
  readonly key: string;
}
interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Record<string, unknown> | undefined;
}

/**
 * The session routes over a real HTTPS listener with mutual TLS: a throwaway service CA, a server
 * certificate, and client certificates for enrolled, revoked and unknown terminals and an admin
 * workstation. Everything else on memory stores and a fixed clock.
 */
describe("api/routes/sessions over mTLS", function () {
  this.timeout(60_000);
  let listeners: Listeners;
  let caPem: string;
  let terminal: Credentials;
  let terminal2: Credentials;
  let revoked: Credentials;
  let stranger: Credentials;
  let admin: Credentials;
  let unregisteredAdmin: Credentials;
  let clock: FixedClock;
  let auth: OperatorAuth;

  before(async () => {
    clock = new FixedClock(T0);
    const caSigner = MemorySigner.generate({ type: "ec", curve: "P-256" });
    const caDer = await buildServiceCaCertificate({ signer: caSigner, serial: 1n, notBefore: new Date("2026-01-01T00:00:00Z") });
    caPem = pem(caDer, "CERTIFICATE");
    const keyPem = (s: MemorySigner): string => s.keyObject.export({ type: "pkcs8", format: "pem" }) as string;
    const leaf = { caCertificate: caDer, caSigner, notBefore: new Date("2026-01-01T00:00:00Z") };
    const serverKey = MemorySigner.generate({ type: "ec", curve: "P-256" });
    const serverCert = await buildServerCertificate({ ...leaf, serial: 2n, subjectPublicKey: serverKey.publicKey, dnsNames: ["localhost"], ips: ["127.0.0.1"] });

    const stores = createMemoryOperatorStores();
    auth = new OperatorAuth({ ...stores, clock, random, passwords: new ScryptPasswordHasher(random, { N: 1024, r: 8, p: 1 }) });
    await auth.addOperator("cli", { operatorId: "tanaka", roles: ["terminal-operator"], password: GOOD, ready: true });
    await auth.addOperator("cli", { operatorId: "suzuki", roles: ["ca-operator"], password: GOOD });
    await auth.addOperator("cli", { operatorId: "ito", roles: ["ca-operator"], password: GOOD, ready: true });
    const registry = new TerminalRegistry({ ...stores, clock: new FixedClock(new Date("2026-01-05T00:00:00Z")), random, serviceCa: { signer: caSigner, certificate: caDer } });
    const enrol = async (id: string): Promise<Credentials> => {
      const e = await registry.enrol("cli", { terminalId: id, municipalityCode: "131041" });
      return { cert: pem(e.certificate, "CERTIFICATE"), key: pem(e.privateKeyPkcs8, "PRIVATE KEY") };
    };
    terminal = await enrol("counter-01");
    terminal2 = await enrol("counter-02");
    revoked = await enrol("counter-99");
    await registry.revoke("cli", "counter-99");
    const client = async (role: "terminal" | "admin", id: string, serial: bigint): Promise<Credentials> => {
      const key = MemorySigner.generate({ type: "ec", curve: "P-256" });
      const der = await buildClientCertificate({ ...leaf, serial, subjectPublicKey: key.publicKey, role, id });
      return { cert: pem(der, "CERTIFICATE"), key: keyPem(key) };
    };
    stranger = await client("terminal", "counter-77", 77n);
    admin = await client("admin", "ws-01", 78n);
    unregisteredAdmin = await client("admin", "ws-99", 79n);
    // Issue 12: admin workstations are registered like terminals (ca/operators/client-register.ts).
    const clients = new MemoryClientCertificateStore();
    const adminDer = fromPem(admin.cert, "CERTIFICATE");
    await clients.register({ kind: "admin", clientId: "ws-01", clientCertSerial: "4e", clientCertFingerprint: certificateFingerprint(adminDer), description: null, enrolledAt: T0 });

    // A stand-in for later routes: one for any operator, one for CA operators.
    const probe = () => {
      const r = new Router();
      r.get("/probe/any", requireOperator(auth), (ctx) => {
        ctx.body = { operator: (ctx.state.operator as { operatorId: string }).operatorId };
      });
      r.get("/probe/ca", requireOperator(auth, "ca-operator"), (ctx) => {
        ctx.body = { ok: true };
      });
      return r;
    };
    const app = createApp({
      logger: createLogger("silent"),
      metrics: new Metrics({ defaultMetrics: false }),
      caGenerations: { list: async () => [], get: async () => undefined },
      readiness: [],
      v1Routers: [sessionRoutes({ auth, terminals: stores.terminals, clients, clock, holidays: parseHolidayCalendar(["2026-11-23"]) }), probe],
    });
    listeners = await listen(app, {
      http: { host: "127.0.0.1", port: 0 },
      https: { host: "127.0.0.1", port: 0 },
      tls: { cert: pem(serverCert, "CERTIFICATE"), key: keyPem(serverKey), clientCa: caPem },
    });
  });
  after(async () => {
    await listeners?.close();
  });
  beforeEach(() => clock.set(T0));

  const call = (method: string, path: string, who: Credentials, opts: { token?: string; body?: unknown; raw?: string } = {}): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const url = new URL(path, listeners.httpsUrl);
      const payload = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
      const req = https.request(
        url,
        {
          method,
          ca: caPem,
          cert: who.cert,
          key: who.key,
          servername: "localhost",
          agent: false,
          headers: {
            ...(payload === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
            ...(opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined });
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  const loginAs = async (operatorId: string, who: Credentials = terminal, password = GOOD) => call("POST", "/v1/sessions", who, { body: { operatorId, password } });

  it("POST /v1/sessions answers 201 {token, expiresAt, mustChangePassword} and the token works on that terminal only", async () => {
    const r = await loginAs("tanaka");
    assert.equal(r.status, 201);
    assert.equal(r.headers["cache-control"], "no-store");
    assert.deepEqual(Object.keys(r.body ?? {}).sort(), ["expiresAt", "mustChangePassword", "token"]);
    assert.equal(r.body?.expiresAt, "2026-11-24T00:45:00.000Z");
    assert.equal(r.body?.mustChangePassword, false);
    const token = r.body?.token as string;
    assert.deepEqual((await call("GET", "/v1/probe/any", terminal, { token })).body, { operator: "tanaka" });
    // Issue 12: the same 401, body and header as a token that never existed (nothing confirms it is real).
    const elsewhere = await call("GET", "/v1/probe/any", terminal2, { token });
    const bogus = await call("GET", "/v1/probe/any", terminal2, { token: "A".repeat(43) });
    assert.equal(elsewhere.status, 401);
    assert.deepEqual(elsewhere.body, bogus.body);
    assert.equal(elsewhere.headers["www-authenticate"], bogus.headers["www-authenticate"]);
  });

  it("answers the same 401 for a wrong password, an unknown operator, the 3rd failure and a locked account (issue 12)", async () => {
    await auth.addOperator("cli", { operatorId: "kato", roles: ["terminal-operator"], password: GOOD, ready: true });
    const wrong = await loginAs("kato", terminal, "wrong");
    const unknown = await loginAs("nobody", terminal, "wrong");
    assert.deepEqual([wrong.status, unknown.status], [401, 401]);
    assert.deepEqual(wrong.body, unknown.body);
    assert.match(String(wrong.headers["content-type"]), /^application\/problem\+json/);
    assert.equal((await loginAs("kato", terminal, "wrong")).status, 401);
    const third = await loginAs("kato", terminal, "wrong");
    const unknownThird = await loginAs("nobody", terminal, "wrong");
    assert.deepEqual([third.status, third.body], [401, unknownThird.body]);
    const locked = await loginAs("kato");
    assert.deepEqual([locked.status, locked.body], [401, unknownThird.body]);
    assert.match(String(locked.body?.detail), /locked/); // the operator learns it may be a lock
  });

  it("validates the body with zod: 400 naming the field; 400 for non-JSON", async () => {
    const missing = await call("POST", "/v1/sessions", terminal, { body: { operatorId: "tanaka" } });
    assert.equal(missing.status, 400);
    assert.equal(missing.body?.field, "password");
    const typed = await call("POST", "/v1/sessions", terminal, { body: { operatorId: 7, password: "x" } });
    assert.equal(typed.body?.field, "operatorId");
    assert.equal((await call("POST", "/v1/sessions", terminal, { raw: "{" })).status, 400);
    const long = await call("POST", "/v1/sessions", terminal, { body: { operatorId: "a", password: "x".repeat(2000) } });
    assert.deepEqual([long.status, long.body?.field], [400, "password"]);
    assert.equal((await call("POST", "/v1/sessions", terminal, { raw: JSON.stringify({ operatorId: "a", password: "x".repeat(300_000) }) })).status, 413);
    assert.equal((await call("POST", "/v1/sessions", terminal, { body: { operatorId: "a", password: "b", extra: 1 } })).status, 400);
  });

  it("refuses terminals that are revoked, not enrolled, or outside operating hours (403)", async () => {
    const r1 = await loginAs("tanaka", revoked);
    // One answer for a revoked and a never-enrolled certificate (api/client-register-guard.ts).
    assert.deepEqual([r1.status, r1.body?.detail], [403, "client certificate is not registered, or has been revoked"]);
    const r2 = await loginAs("tanaka", stranger);
    assert.deepEqual([r2.status, r2.body?.detail], [403, "client certificate is not registered, or has been revoked"]);
    clock.set(new Date("2026-11-24T08:15:01Z")); // 17:15:01 JST
    const r3 = await loginAs("tanaka");
    assert.deepEqual([r3.status, r3.body?.detail], [403, "outside operating hours"]);
    clock.set(new Date("2026-11-23T01:00:00Z")); // a holiday
    assert.equal((await loginAs("tanaka")).status, 403);
    clock.set(new Date("2026-11-24T08:15:00Z")); // 17:15:00 JST
    assert.equal((await loginAs("tanaka")).status, 201);
  });

  it("opens sessions from a registered admin workstation at any hour; an unregistered one is refused (403)", async () => {
    clock.set(new Date("2026-11-28T13:00:00Z")); // Saturday 22:00 JST
    assert.equal((await loginAs("ito", admin)).status, 201);
    const r = await loginAs("ito", unregisteredAdmin);
    assert.deepEqual([r.status, r.body?.detail], [403, "client certificate is not registered, or has been revoked"]);
  });

  it("binds roles to the kind of workstation: no terminal operator at an admin workstation, no CA operator at a counter (401, as a bad password)", async () => {
    const unknown = await loginAs("nobody", admin, "wrong");
    const clerkAtAdmin = await loginAs("tanaka", admin);
    const opAtCounter = await loginAs("ito", terminal);
    assert.deepEqual([clerkAtAdmin.status, clerkAtAdmin.body], [401, unknown.body]);
    assert.deepEqual([opAtCounter.status, opAtCounter.body], [401, unknown.body]);
  });

  it("forces the password change first: other routes 403, then 204 and the routes open", async () => {
    const r = await loginAs("suzuki", admin);
    assert.equal(r.body?.mustChangePassword, true);
    const token = r.body?.token as string;
    const blocked = await call("GET", "/v1/probe/ca", admin, { token });
    assert.equal(blocked.status, 403);
    assert.match(String(blocked.body?.detail), /password change required/);
    const bad = await call("POST", "/v1/operators/me/password", admin, { token, body: { currentPassword: GOOD, newPassword: "short" } });
    assert.deepEqual([bad.status, bad.body?.field], [422, "newPassword"]);
    const missing = await call("POST", "/v1/operators/me/password", admin, { token, body: { currentPassword: GOOD } });
    assert.deepEqual([missing.status, missing.body?.field], [400, "newPassword"]);
    const changed = await call("POST", "/v1/operators/me/password", admin, { token, body: { currentPassword: GOOD, newPassword: NEW } });
    assert.equal(changed.status, 204);
    assert.deepEqual((await call("GET", "/v1/probe/ca", admin, { token })).body, { ok: true });
  });

  it("checks operator roles: 403 naming the role needed", async () => {
    const token = (await loginAs("tanaka")).body?.token as string;
    const r = await call("GET", "/v1/probe/ca", terminal, { token });
    assert.equal(r.status, 403);
    assert.match(String(r.body?.detail), /ca-operator/);
  });

  it("401 without a bearer token, after the idle timeout, and after DELETE /v1/sessions/current (204)", async () => {
    const none = await call("GET", "/v1/probe/any", terminal);
    assert.equal(none.status, 401);
    assert.match(String(none.headers["www-authenticate"]), /^Bearer/);
    const token = (await loginAs("tanaka")).body?.token as string;
    clock.advance(15 * 60_000);
    assert.equal((await call("GET", "/v1/probe/any", terminal, { token })).status, 200);
    clock.advance(15 * 60_000 + 1000);
    const idle = await call("GET", "/v1/probe/any", terminal, { token });
    assert.deepEqual([idle.status, idle.body?.detail], [401, "session expired: log in again"]);
    clock.set(T0);
    const t2 = (await loginAs("tanaka")).body?.token as string;
    assert.equal((await call("DELETE", "/v1/sessions/current", terminal, { token: t2 })).status, 204);
    assert.equal((await call("GET", "/v1/probe/any", terminal, { token: t2 })).status, 401);
    assert.equal((await call("DELETE", "/v1/sessions/current", terminal, { token: t2 })).status, 401);
  });

  it("documents the three operations in /openapi.json", async () => {
    const doc = await new Promise<Record<string, unknown>>((resolve, reject) => {
      https
        .get(new URL("/openapi.json", listeners.httpsUrl), { ca: caPem, cert: admin.cert, key: admin.key, servername: "localhost", agent: false }, (res) => {
          let text = "";
          res.on("data", (c) => (text += c));
          res.on("end", () => resolve(JSON.parse(text) as Record<string, unknown>));
        })
        .on("error", reject);
    });
    const paths = doc.paths as Record<string, Record<string, unknown>>;
    assert.ok(paths["/v1/sessions"]?.post);
    assert.ok(paths["/v1/sessions/current"]?.delete);
    assert.ok(paths["/v1/operators/me/password"]?.post);
  });
});
