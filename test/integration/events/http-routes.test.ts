import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createApp } from "../../../api/app.js";
import { listen, type Listeners } from "../../../api/listeners.js";
import { createLogger } from "../../../api/logger.js";
import { Metrics } from "../../../api/metrics.js";
import { requireActiveTerminal, requireOperator } from "../../../api/operator-session.js";
import Router from "@koa/router";
import Koa from "koa";
import { requireClient } from "../../../api/client-identity.js";
import { errorMiddleware } from "../../../api/error-middleware.js";
import { OpenApiDocument } from "../../../api/openapi.js";
import { buildResidentEvents, type ResidentEvents } from "../../../api/wiring/resident-events.js";
import { residentEventRoutes } from "../../../api/routes/resident-events.js";
import { sessionRoutes } from "../../../api/routes/sessions.js";
import { parseHolidayCalendar } from "../../../ca/operators/operating-hours.js";
import { OperatorAuth } from "../../../ca/operators/operator-auth.js";
import { ScryptPasswordHasher } from "../../../ca/operators/password-hash.js";
import { FixedClock, type Random } from "../../../ca/ports.js";
import { buildClientCertificate, buildServerCertificate, buildServiceCaCertificate } from "../../../ca/operators/service-ca.js";
import { TerminalRegistry } from "../../../ca/operators/terminal-registry.js";
import { pem } from "../../../ca/x509/pem.js";
import { KnexAuditStore } from "../../../db/audit-store.js";
import { KnexCertificateStore } from "../../../db/certificate-store.js";
import { KnexOutboxStore } from "../../../db/outbox-store.js";
import { MemorySigner } from "../../../hsm/memory-signer.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase } from "../../support/database.js";
import { request, type ClientCredentials, type HttpAnswer } from "../../support/https-client.js";
import { createMemoryOperatorStores } from "../../support/memory-operator-stores.js";
import { MemoryClientCertificateStore } from "../../support/memory-client-certificates.js";
import { certificateFingerprint } from "../../../ca/operators/certificate-fingerprint.js";
import { clientRegisterGuardRouter } from "../../../api/client-register-guard.js";
import { changesFor, event, residentCode, T0, wire } from "../../support/resident-event-fixtures.js";
import { authSerial, seedCaGenerations, seedResidents, signSerial } from "../../support/resident-event-seed.js";

const random: Random = { bytes: (n) => new Uint8Array(randomBytes(n)) };
const PASSWORD = "Kq7#mZp2xW9v";

/**
 * The routes of issue 4 over a real mTLS listener, with PostgreSQL behind the event processor and the
 * revocation service: the feed's batch, the events admin routes, manual revocation and hold.
 */
describe("resident events and revocation over HTTPS with PostgreSQL", function () {
  this.timeout(60_000);
  let t: TestDatabase;
  let listeners: Listeners;
  let metrics: Metrics;
  let tlsCa: string;
  const who: Record<"feed" | "terminal" | "admin" | "terminal2", ClientCredentials> = {} as never;
  const tokens: Record<string, string> = {};
  let tlsMaterial: { cert: string; key: string; clientCa: string };
  let processorOf: () => ResidentEvents["processor"];

  before(async function () {
    requirePostgresUrl(this);
    t = await openTestDatabase("postgres");
    await seedCaGenerations(t.db);
    await seedResidents(t.db, 1, 20);
    const clock = new FixedClock(T0);

    const caSigner = MemorySigner.generate({ type: "ec", curve: "P-256" });
    const caDer = await buildServiceCaCertificate({ signer: caSigner, serial: 1n, notBefore: new Date("2026-01-01T00:00:00Z") });
    tlsCa = pem(caDer, "CERTIFICATE");
    const keyPem = (s: MemorySigner): string => s.keyObject.export({ type: "pkcs8", format: "pem" }) as string;
    const leaf = { caCertificate: caDer, caSigner, notBefore: new Date("2026-01-01T00:00:00Z") };
    const serverKey = MemorySigner.generate({ type: "ec", curve: "P-256" });
    const serverCert = await buildServerCertificate({ ...leaf, serial: 2n, subjectPublicKey: serverKey.publicKey, dnsNames: ["localhost"], ips: ["127.0.0.1"] });
    // Issue 12: admin and feed certificates count only while registered (ca/operators/client-register.ts).
    const clients = new MemoryClientCertificateStore();
    const client = async (role: "feed" | "admin", id: string, serial: bigint): Promise<ClientCredentials> => {
      const key = MemorySigner.generate({ type: "ec", curve: "P-256" });
      const der = await buildClientCertificate({ ...leaf, serial, subjectPublicKey: key.publicKey, role, id });
      await clients.register({ kind: role, clientId: id, clientCertSerial: serial.toString(16), clientCertFingerprint: certificateFingerprint(der), description: null, enrolledAt: T0 });
      return { ca: tlsCa, cert: pem(der, "CERTIFICATE"), key: keyPem(key) };
    };
    who.feed = await client("feed", "register-feed", 10n);
    who.admin = await client("admin", "ws-01", 11n);

    const ops = createMemoryOperatorStores();
    const auth = new OperatorAuth({ ...ops, clock, random, passwords: new ScryptPasswordHasher(random, { N: 1024, r: 8, p: 1 }) });
    for (const [id, role] of [["clerk", "terminal-operator"], ["ops", "ca-operator"], ["aud", "auditor"]] as const) {
      await auth.addOperator("cli", { operatorId: id, roles: [role], password: PASSWORD, ready: true });
    }
    const registry = new TerminalRegistry({ ...ops, clock: new FixedClock(new Date("2026-01-05T00:00:00Z")), random, serviceCa: { signer: caSigner, certificate: caDer } });
    const enrol = async (id: string): Promise<ClientCredentials> => {
      const e = await registry.enrol("cli", { terminalId: id, municipalityCode: "131041" });
      return { ca: tlsCa, cert: pem(e.certificate, "CERTIFICATE"), key: pem(e.privateKeyPkcs8, "PRIVATE KEY") };
    };
    who.terminal = await enrol("counter-01");
    who.terminal2 = await enrol("counter-02");

    metrics = new Metrics({ defaultMetrics: false });
    tlsMaterial = { cert: pem(serverCert, "CERTIFICATE"), key: keyPem(serverKey), clientCa: tlsCa };
    const events = buildResidentEvents(
      { db: t.db, clock, metrics, stores: { certificates: new KnexCertificateStore(t.db), audit: new KnexAuditStore(t.db), outbox: new KnexOutboxStore(t.db) } },
      { limits: { maxRevocationsPerEvent: 4, maxRevocationsInWindow: 6, windowMs: 600_000 } },
    );
    processorOf = () => events.processor;
    const holidays = parseHolidayCalendar([]);
    const app = createApp({
      logger: createLogger("silent"),
      metrics,
      caGenerations: { list: async () => [], get: async () => undefined },
      readiness: [],
      v1Routers: [
        clientRegisterGuardRouter({ clients, terminals: ops.terminals }),
        sessionRoutes({ auth, terminals: ops.terminals, clients, clock, holidays }),
        ...events.routers({ requireOperator: (...roles) => requireOperator(auth, ...roles), requireActiveTerminal: requireActiveTerminal(ops.terminals, clock, holidays) }),
      ],
    });
    listeners = await listen(app, {
      http: { host: "127.0.0.1", port: 0 },
      https: { host: "127.0.0.1", port: 0 },
      tls: tlsMaterial,
    });
    const login = async (operatorId: string, from: ClientCredentials): Promise<string> => {
      const r = await call("POST", "/v1/sessions", from, { body: { operatorId, password: PASSWORD } });
      assert.equal(r.status, 201, r.body.toString());
      return r.json<{ token: string }>().token;
    };
    tokens.clerk = await login("clerk", who.terminal);
    tokens.ops = await login("ops", who.admin);
    tokens.aud = await login("aud", who.admin);
  });
  after(async function () {
    await listeners?.close();
    await t?.close();
  });

  function call(method: string, path: string, from: ClientCredentials, opts: { body?: unknown; token?: string } = {}): Promise<HttpAnswer> {
    return request(new URL(path, listeners.httpsUrl).toString(), {
      method,
      tls: from,
      ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
      headers: { ...(opts.body === undefined ? {} : { "content-type": "application/json" }), ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
    });
  }

  it("POST /v1/resident-events answers one outcome per event, in order", async function () {
    const applied = event("ADDRESS_CHANGED", changesFor.ADDRESS_CHANGED, { residentCode: residentCode(1) });
    const r = await call("POST", "/v1/resident-events", who.feed, {
      body: { events: [wire(applied), wire(applied), { ...wire(event("DECEASED")), type: "MARRIED" }, "not an object", wire(event("DECEASED", {}, { residentCode: residentCode(99) }))] },
    });
    assert.equal(r.status, 200, r.body.toString());
    const { results } = r.json<{ results: Array<{ eventId: string | null; outcome: string; revoked: string[]; reason?: string }> }>();
    assert.deepEqual(results.map((x) => x.outcome), ["applied", "duplicate", "rejected", "rejected", "rejected"]);
    assert.deepEqual(results[0], { eventId: applied.eventId, outcome: "applied", revoked: [signSerial(1)] });
    assert.match(results[2]!.reason!, /^unknown-type/);
    assert.equal(results[3]!.eventId, null);
    assert.match(results[4]!.reason!, /^unknown-resident/);
    const text = await (await fetchMetrics()).text;
    assert.match(text, /ca_resident_events_total\{transport="http",outcome="applied"\} 1/);
    assert.match(text, /ca_resident_events_total\{transport="http",outcome="rejected"\} 3/);
  });

  it("the feed route takes only the feed's certificate and a well-formed batch", async function () {
    assert.equal((await call("POST", "/v1/resident-events", who.terminal, { body: { events: [] } })).status, 403);
    assert.equal((await call("POST", "/v1/resident-events", who.feed, { body: { events: [] } })).status, 400);
    assert.equal((await call("POST", "/v1/resident-events", who.feed, { body: { events: Array(1001).fill(1) } })).status, 400);
    assert.equal((await call("POST", "/v1/resident-events", who.feed, { body: [wire(event("DECEASED"))] })).status, 400);
  });

  it("terminal operators revoke for the holder's request and key compromise; 409 when revoked already", async function () {
    const r = await call("POST", `/v1/certificates/${authSerial(2)}/revocation`, who.terminal, { token: tokens.clerk, body: { reason: "unspecified", comment: "at the counter" } });
    assert.equal(r.status, 200, r.body.toString());
    const rec = r.json<Record<string, unknown>>();
    assert.equal(rec.status, "revoked");
    assert.equal(rec.revocationReason, "unspecified");
    assert.equal(rec.serialNumber, authSerial(2));
    assert.equal((await call("POST", `/v1/certificates/${authSerial(2)}/revocation`, who.terminal, { token: tokens.clerk, body: { reason: "keyCompromise" } })).status, 409);
    assert.equal((await call("POST", `/v1/certificates/${signSerial(2)}/revocation`, who.terminal, { token: tokens.clerk, body: { reason: "cACompromise" } })).status, 403);
    assert.equal((await call("POST", `/v1/certificates/${signSerial(2)}/revocation`, who.terminal, { token: tokens.clerk, body: { reason: "privilegeWithdrawn" } })).status, 400);
    assert.equal((await call("POST", `/v1/certificates/${signSerial(2)}/revocation`, who.terminal, { token: tokens.clerk, body: { reason: "certificateHold" } })).status, 422);
    assert.equal((await call("POST", `/v1/certificates/ffff/revocation`, who.terminal, { token: tokens.clerk, body: { reason: "unspecified" } })).status, 404);
    assert.equal((await call("POST", `/v1/certificates/${signSerial(2)}/revocation`, who.terminal2, { token: tokens.clerk, body: { reason: "unspecified" } })).status, 401, "a session works on its own terminal only");
    assert.equal((await call("POST", `/v1/certificates/${signSerial(2)}/revocation`, who.admin, { token: tokens.aud, body: { reason: "unspecified" } })).status, 403);
    const ca = await call("POST", `/v1/certificates/${signSerial(2)}/revocation`, who.admin, { token: tokens.ops, body: { reason: "cACompromise" } });
    assert.equal(ca.status, 200);
    const audit = (await t.db.knex("audit_log").where({ action: "certificate.revoked" }).orderBy("seq")) as Array<{ actor: string; detail: Record<string, unknown> }>;
    assert.deepEqual(audit.map((a) => [a.actor, a.detail.reason, a.detail.clientId]), [
      ["operator:clerk", "unspecified", "terminal:counter-01"],
      ["operator:ops", "cACompromise", "admin:ws-01"],
    ]);
  });

  it("a lost card: both certificates on hold; the hold is replaced by a later revocation, never released", async function () {
    const r = await call("POST", `/v1/certificates/${signSerial(3)}/hold`, who.terminal, { token: tokens.clerk });
    assert.equal(r.status, 200, r.body.toString());
    const held = r.json<{ certificates: Array<{ serialNumber: string; status: string; revocationReason: string }> }>().certificates;
    assert.deepEqual(held.map((c) => [c.serialNumber, c.status, c.revocationReason]).sort(), [
      [signSerial(3), "hold", "certificateHold"],
      [authSerial(3), "hold", "certificateHold"],
    ].sort());
    assert.equal((await call("POST", `/v1/certificates/${authSerial(3)}/hold`, who.terminal, { token: tokens.clerk, body: { comment: "again" } })).status, 409);
    const outbox = (await t.db.knex("outbox").where({ topic: "certificate.held" })) as Array<{ payload: { serial: string } }>;
    assert.deepEqual(outbox.map((o) => o.payload.serial).sort(), [authSerial(3), signSerial(3)].sort());
    const revoked = await call("POST", `/v1/certificates/${authSerial(3)}/revocation`, who.terminal, { token: tokens.clerk, body: { reason: "keyCompromise" } });
    assert.equal(revoked.json<{ status: string }>().status, "revoked");
    // an event revokes a held certificate too (a later revocation replaces the hold)
    const res = await call("POST", "/v1/resident-events", who.feed, { body: { events: [wire(event("DECEASED", {}, { residentCode: residentCode(3) }))] } });
    assert.deepEqual(res.json<{ results: Array<{ revoked: string[] }> }>().results[0]!.revoked, [signSerial(3)]);
  });

  it("admin routes: list and replay rejected events; the breaker halts and a ca-operator resumes", async function () {
    // ca-operators only, from an admin workstation
    assert.equal((await call("GET", "/v1/admin/events", who.admin, { token: tokens.aud })).status, 403);
    assert.equal((await call("GET", "/v1/admin/events", who.terminal, { token: tokens.clerk })).status, 403);
    const list = await call("GET", "/v1/admin/events?outcome=rejected", who.admin, { token: tokens.ops });
    assert.equal(list.status, 200);
    const rejected = list.json<{ events: Array<{ seq: number; reason: string; residentCode: string | null }> }>().events;
    const unknown = rejected.find((e) => e.reason.startsWith("unknown-resident"))!;
    const one = await call("GET", `/v1/admin/events/${unknown.seq}`, who.admin, { token: tokens.ops });
    assert.equal(one.json<{ event: { type: string } }>().event.type, "DECEASED");
    await seedResidents(t.db, 99, 1);
    const replay = await call("POST", `/v1/admin/events/${unknown.seq}/replay`, who.admin, { token: tokens.ops });
    assert.equal(replay.status, 200, replay.body.toString());
    assert.equal(replay.json<{ outcome: string }>().outcome, "applied");
    assert.equal((await call("POST", `/v1/admin/events/${unknown.seq}/replay`, who.admin, { token: tokens.ops })).status, 409);

    // the breaker of this app allows 6 revocations per 10 minutes; events above made 4 (1 + 1 + the replay's 2)
    const deaths = [10, 11, 12].map((n) => wire(event("DECEASED", {}, { residentCode: residentCode(n) })));
    const res = await call("POST", "/v1/resident-events", who.feed, { body: { events: deaths } });
    assert.deepEqual(res.json<{ results: Array<{ outcome: string }> }>().results.map((x) => x.outcome), ["applied", "deferred", "deferred"]);
    const valve = await call("GET", "/v1/admin/events/safety-valve", who.admin, { token: tokens.ops });
    assert.equal(valve.json<{ halted: boolean; haltReason: string }>().halted, true);
    assert.match((await fetchMetrics()).text, /ca_event_safety_valve_halted 1/);
    assert.match((await fetchMetrics()).text, /ca_event_safety_valve_alarms_total\{reason="rate-breaker"\} 1/);
    assert.equal((await call("POST", "/v1/admin/events/resume", who.terminal, { token: tokens.clerk })).status, 403);
    const resumed = await call("POST", "/v1/admin/events/resume", who.admin, { token: tokens.ops, body: { deferred: "apply" } });
    assert.deepEqual(resumed.json(), { applied: 2, rejected: 0, deferredRejected: 0, revoked: 4, resumed: true });
    assert.match((await fetchMetrics()).text, /ca_event_safety_valve_halted 0/);
    assert.equal((await call("POST", "/v1/admin/events/halt", who.admin, { token: tokens.ops })).json<{ changed: boolean }>().changed, true);
    assert.equal((await call("POST", "/v1/admin/events/resume", who.admin, { token: tokens.ops })).json<{ resumed: boolean }>().resumed, true);
  });

  it("a 1 MB event in a batch is rejected and stored, once the route reads its own body (createApp skipping its 256 kB parser)", async function () {
    // What createApp should mount for this path: no body parser in front of the route.
    const app = new Koa();
    app.use(errorMiddleware(createLogger("silent"), metrics));
    const v1 = new Router({ prefix: "/v1" });
    v1.use(requireClient());
    const events = residentEventRoutes({ processor: processorOf(), requireOperator: () => async () => undefined })(new OpenApiDocument({ title: "t", version: "1" }));
    v1.use(events.routes());
    app.use(v1.routes());
    const bare = await listen(app, { http: { host: "127.0.0.1", port: 0 }, https: { host: "127.0.0.1", port: 0 }, tls: tlsMaterial });
    try {
      const big = { ...wire(event("DECEASED", {}, { residentCode: residentCode(20) })), padding: "x".repeat(1_000_000) };
      const ok = wire(event("DECEASED", {}, { residentCode: residentCode(19) }));
      const r = await request(new URL("/v1/resident-events", bare.httpsUrl).toString(), { method: "POST", tls: who.feed, body: JSON.stringify({ events: [big, ok] }), headers: { "content-type": "application/json" } });
      assert.equal(r.status, 200, r.body.toString().slice(0, 200));
      const results = r.json<{ results: Array<{ outcome: string; reason?: string }> }>().results;
      assert.deepEqual(results.map((x) => x.outcome), ["rejected", "applied"]);
      assert.match(results[0]!.reason!, /^too-large/);
      const stored = (await t.db.knex("resident_events").where({ transport: "http" }).andWhere("reason", "like", "too-large%").first()) as { raw_size: number; raw: string };
      assert.ok(stored.raw_size > 1_000_000);
      assert.equal(stored.raw.length, stored.raw_size, "kept whole (under the 1 MiB stored maximum)");
    } finally {
      await bare.close();
    }
  });

  async function fetchMetrics(): Promise<{ text: string }> {
    return { text: await metrics.registry.metrics() };
  }
});
