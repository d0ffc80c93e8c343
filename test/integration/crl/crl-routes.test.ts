import assert from "node:assert/strict";
import type { Context, Next } from "koa";
import { createApp } from "../../../api/app.js";
import { listen, type Listeners } from "../../../api/listeners.js";
import { createLogger } from "../../../api/logger.js";
import { Metrics } from "../../../api/metrics.js";
import { crlAdminRoutes, crlRoutes, type CrlRead, type RevocationAccessMode } from "../../../api/routes/crl.js";
import { CaError } from "../../../ca/errors.js";
import { FixedClock } from "../../../ca/ports.js";
import type { RelyingParty } from "../../../ca/relying-parties/relying-party.js";
import type { OperatorRole } from "../../../ca/operators/roles.js";
import { buildClientCertificate, buildServerCertificate, buildServiceCaCertificate } from "../../../ca/operators/service-ca.js";
import type { AuditEntryInput, CaId } from "../../../ca/types.js";
import { parseIssuerCertificate } from "../../../ca/x509/issuer-certificate.js";
import { pem } from "../../../ca/x509/pem.js";
import { buildCrl } from "../../../crl/crl-builder.js";
import type { CrlKind, PartitionRef, PublishedCrl } from "../../../ca/revocation/crl-ports.js";
import type { RunReport } from "../../../crl/crl-scheduler.js";
import { MemorySigner } from "../../../hsm/memory-signer.js";
import { makeTestCa } from "../../support/end-entity-fixtures.js";
import { request, type ClientCredentials } from "../../support/https-client.js";

const T0 = new Date("2026-11-22T03:00:00Z");
const API_KEY = "rp_" + "A".repeat(43);

/**
 * The CRL routes over real listeners: HTTP (relying parties, public or API key) and HTTPS with client
 * certificates (a relying-party certificate; the admin run route with an admin certificate and a
 * ca-operator session). The store and scheduler are stand-ins; the CRL bytes are real.
 */
describe("api/routes/crl over HTTP and mTLS", function () {
  this.timeout(60_000);
  const crls = new Map<string, PublishedCrl>();
  const reads: CrlRead[] = [];
  /** Set: the recorder cannot take the read (api/main.ts throws `unavailable` then). */
  let recordingRefused = false;
  const audit: AuditEntryInput[] = [];
  const runs: Array<CaId | undefined> = [];
  const clock = new FixedClock(T0);
  const listeners: Partial<Record<RevocationAccessMode, Listeners>> = {};
  let tlsCa: string;
  let relyingParty: ClientCredentials;
  let admin: ClientCredentials;
  let terminal: ClientCredentials;
  let der: Uint8Array;

  const store = {
    published: async (ref: PartitionRef, kind: CrlKind) => crls.get(`${ref.caId}/${ref.partition}/${kind}`)?.info,
    publishedDer: async (ref: PartitionRef, kind: CrlKind) => crls.get(`${ref.caId}/${ref.partition}/${kind}`),
  };
  const parties = {
    byApiKey: async (key: string): Promise<RelyingParty | undefined> => (key === API_KEY ? { id: "bank-1", name: "Bank", active: true } : undefined),
    byCertificateId: async (id: string): Promise<RelyingParty | undefined> => (id === "kiosk-7" ? { id, name: "Kiosk", active: true } : undefined),
  };
  // Stand-in for api/operator-session.ts requireOperator: the bearer token names the operator's role.
  const requireOperator = (...roles: OperatorRole[]) =>
    async function fakeOperator(ctx: Context, next: Next): Promise<void> {
      const token = /^Bearer (.+)$/.exec(ctx.get("Authorization"))?.[1];
      if (!token) throw new CaError("unauthenticated", "an operator session is required");
      if (!roles.includes(token as OperatorRole)) throw new CaError("forbidden", "wrong role");
      ctx.state.operator = { operatorId: `op-${token}`, roles: [token] };
      await next();
    };
  const scheduler = {
    runNow: async (caId?: CaId): Promise<RunReport> => {
      runs.push(caId);
      if (caId !== "sign-g1") throw new CaError("not-found", "no such CA generation");
      return { startedAt: T0, finishedAt: T0, partitions: [{ caId, partition: 0, outcome: "issued", fullNumber: 9, fullEntries: 1, deltaNumber: 10, deltaEntries: 0 }] };
    },
  };

  before(async () => {
    const ca = await makeTestCa("sign");
    const issuer = parseIssuerCertificate(ca.certificate);
    const thisUpdate = new Date("2026-11-22T02:00:00Z");
    const nextUpdate = new Date("2026-11-23T02:00:00Z");
    der = (
      await buildCrl(
        { issuer: issuer.subject, authorityKeyId: issuer.keyIdentifier, thisUpdate, nextUpdate, crlNumber: 9, distributionPoint: "http://x/crl/sign-g1/3.crl", freshestCrl: "http://x/crl/sign-g1/3-delta.crl" },
        ca.signer,
        [[{ serial: "11aa", revokedAt: 1_795_000_000, reasonCode: 1, invalidityDate: null }]],
      )
    ).der;
    const info = { caId: "sign-g1" as const, partition: 3, thisUpdate, nextUpdate, asOf: thisUpdate, entries: 1, size: der.length, publishedAt: thisUpdate };
    crls.set("sign-g1/3/full", { info: { ...info, kind: "full", number: 9, baseNumber: null, etag: '"sign-g1.3.9"' }, der });
    crls.set("sign-g1/3/delta", { info: { ...info, kind: "delta", number: 10, baseNumber: 9, etag: '"sign-g1.3.10"', nextUpdate: new Date("2026-11-22T03:30:00Z") }, der });

    // Service CA, server certificate, client certificates (relying party, admin, terminal).
    const caSigner = MemorySigner.generate({ type: "ec", curve: "P-256" });
    const caDer = await buildServiceCaCertificate({ signer: caSigner, serial: 1n, notBefore: new Date("2026-01-01T00:00:00Z") });
    tlsCa = pem(caDer, "CERTIFICATE");
    const leaf = { caCertificate: caDer, caSigner, notBefore: new Date("2026-01-01T00:00:00Z") };
    const keyPem = (s: MemorySigner): string => s.keyObject.export({ type: "pkcs8", format: "pem" }) as string;
    const serverKey = MemorySigner.generate({ type: "ec", curve: "P-256" });
    const serverCert = await buildServerCertificate({ ...leaf, serial: 2n, subjectPublicKey: serverKey.publicKey, dnsNames: ["localhost"], ips: ["127.0.0.1"] });
    const client = async (role: "relying-party" | "admin" | "terminal", id: string, serial: bigint): Promise<ClientCredentials> => {
      const key = MemorySigner.generate({ type: "ec", curve: "P-256" });
      const cert = await buildClientCertificate({ ...leaf, serial, subjectPublicKey: key.publicKey, role, id, ...(role === "terminal" ? { municipalityCode: "131041" } : {}) });
      return { ca: tlsCa, cert: pem(cert, "CERTIFICATE"), key: keyPem(key) };
    };
    relyingParty = await client("relying-party", "kiosk-7", 3n);
    admin = await client("admin", "ws-01", 4n);
    terminal = await client("terminal", "counter-01", 5n);

    for (const access of ["registered", "public"] as const) {
      const app = createApp({
        logger: createLogger("silent"),
        metrics: new Metrics({ defaultMetrics: false }),
        caGenerations: { list: async () => [], get: async () => undefined },
        readiness: [],
        publicRouters: [
          crlRoutes({
            crls: store,
            clock,
            access,
            relyingParties: parties,
            recordRead: (r) => {
              if (recordingRefused) throw new CaError("unavailable", "CRL reads cannot be recorded at the moment; retry later");
              reads.push(r);
            },
          }),
        ],
        v1Routers: [crlAdminRoutes({ scheduler, requireOperator, audit: { append: async (e) => (audit.push(e), { ...e, seq: audit.length, prevHash: "", hash: "" }) }, clock })],
      });
      listeners[access] = await listen(app, {
        http: { host: "127.0.0.1", port: 0 },
        https: { host: "127.0.0.1", port: 0 },
        tls: { cert: pem(serverCert, "CERTIFICATE"), key: keyPem(serverKey), clientCa: tlsCa },
      });
    }
  });
  after(async () => {
    for (const l of Object.values(listeners)) await l?.close();
  });

  const http = (access: RevocationAccessMode, path: string, headers: Record<string, string> = {}) => request(`${listeners[access]!.httpUrl}${path}`, { headers });

  it("public mode: serves the full and delta CRL with caching headers up to nextUpdate", async () => {
    const full = await http("public", "/crl/sign-g1/3.crl");
    assert.equal(full.status, 200);
    assert.equal(full.headers["content-type"], "application/pkix-crl");
    assert.deepEqual(new Uint8Array(full.body), der);
    assert.equal(full.headers.etag, '"sign-g1.3.9"');
    assert.equal(full.headers["last-modified"], "Sun, 22 Nov 2026 02:00:00 GMT");
    assert.equal(full.headers["cache-control"], "public, no-transform, max-age=82800"); // 23 h until nextUpdate
    assert.equal(full.headers.expires, "Mon, 23 Nov 2026 02:00:00 GMT");
    const delta = await http("public", "/crl/sign-g1/3-delta.crl");
    assert.equal(delta.status, 200);
    assert.equal(delta.headers.etag, '"sign-g1.3.10"');
    assert.equal(delta.headers["cache-control"], "public, no-transform, max-age=1800");
    assert.equal(reads.at(-1)?.reader.partyId, null);
  });

  it("answers 304 to If-None-Match with the current ETag, and 200 to an old one", async () => {
    const same = await http("public", "/crl/sign-g1/3.crl", { "If-None-Match": '"sign-g1.3.9"' });
    assert.equal(same.status, 304);
    assert.equal(same.body.length, 0);
    assert.equal(same.headers.etag, '"sign-g1.3.9"');
    assert.equal((await http("public", "/crl/sign-g1/3.crl", { "If-None-Match": '"sign-g1.3.7", W/"sign-g1.3.9"' })).status, 304);
    assert.equal((await http("public", "/crl/sign-g1/3.crl", { "If-None-Match": '"sign-g1.3.8"' })).status, 200);
  });

  it("answers 404 for unknown CAs, partitions and file names", async () => {
    for (const path of ["/crl/sign-g1/4.crl", "/crl/sign-g9/3.crl", "/crl/sign-g1/03.crl", "/crl/sign-g1/3.der", "/crl/nope/3.crl", "/crl/sign-g1/3-delta.crl.crl"]) {
      const r = await http("public", path);
      assert.equal(r.status, 404, path);
      assert.match(String(r.headers["content-type"]), /problem\+json/);
    }
  });

  it("registered mode: 401 problem without a credential or with a wrong key, 200 with a registered party's API key", async () => {
    const none = await http("registered", "/crl/sign-g1/3.crl");
    assert.equal(none.status, 401);
    assert.match(String(none.headers["content-type"]), /^application\/problem\+json/);
    assert.match(String(none.headers["www-authenticate"]), /^Bearer/);
    assert.equal(none.json().status, 401);
    assert.equal((await http("registered", "/crl/sign-g1/3.crl", { Authorization: `Bearer rp_${"B".repeat(43)}` })).status, 401);
    const ok = await http("registered", "/crl/sign-g1/3.crl", { Authorization: `Bearer ${API_KEY}` });
    assert.equal(ok.status, 200);
    assert.match(String(ok.headers["cache-control"]), /^private, /);
    assert.deepEqual(reads.at(-1), { reader: { partyId: "bank-1", via: "api-key" }, caId: "sign-g1", partition: 3, kind: "full", number: 9, at: T0 });
  });

  it("a read that cannot be recorded is not answered: 503 problem, no CRL", async () => {
    recordingRefused = true;
    try {
      const refused = await http("registered", "/crl/sign-g1/3.crl", { Authorization: `Bearer ${API_KEY}` });
      assert.equal(refused.status, 503);
      assert.match(String(refused.headers["content-type"]), /^application\/problem\+json/);
      assert.equal(refused.json().status, 503);
    } finally {
      recordingRefused = false;
    }
    assert.equal((await http("registered", "/crl/sign-g1/3.crl", { Authorization: `Bearer ${API_KEY}` })).status, 200);
  });

  it("registered mode over HTTPS: a relying-party client certificate is enough; other certificates are not", async () => {
    const base = listeners.registered!.httpsUrl;
    const ok = await request(`${base}/crl/sign-g1/3-delta.crl`, { tls: relyingParty });
    assert.equal(ok.status, 200);
    assert.deepEqual(reads.at(-1)?.reader, { partyId: "kiosk-7", via: "client-certificate" });
    assert.equal((await request(`${base}/crl/sign-g1/3.crl`, { tls: terminal })).status, 401);
  });

  it("POST /v1/admin/crl/{caId}/run: admin certificate + ca-operator, audited; 403/401/404 otherwise", async () => {
    const url = `${listeners.public!.httpsUrl}/v1/admin/crl/sign-g1/run`;
    const ok = await request(url, { method: "POST", tls: admin, headers: { Authorization: "Bearer ca-operator" } });
    assert.equal(ok.status, 200, ok.body.toString());
    assert.deepEqual(ok.json(), {
      caId: "sign-g1",
      startedAt: T0.toISOString(),
      finishedAt: T0.toISOString(),
      issued: 1,
      busy: 0,
      failed: 0,
      partitions: [{ caId: "sign-g1", partition: 0, outcome: "issued", fullCrlNumber: 9, fullEntries: 1, deltaCrlNumber: 10, deltaEntries: 0 }],
    });
    assert.deepEqual(audit.at(-1), { at: T0, action: "crl.run", actor: "operator:op-ca-operator", subject: "ca:sign-g1", outcome: "success", detail: { issued: 1, busy: 0, failed: 0 } });
    assert.equal((await request(url, { method: "POST", tls: admin, headers: { Authorization: "Bearer auditor" } })).status, 403);
    assert.equal((await request(url, { method: "POST", tls: admin })).status, 401);
    assert.equal((await request(url, { method: "POST", tls: terminal, headers: { Authorization: "Bearer ca-operator" } })).status, 403);
    const unknown = await request(`${listeners.public!.httpsUrl}/v1/admin/crl/auth-g7/run`, { method: "POST", tls: admin, headers: { Authorization: "Bearer ca-operator" } });
    assert.equal(unknown.status, 404);
    assert.deepEqual(runs, ["sign-g1", "auth-g7"]);
  });
});
