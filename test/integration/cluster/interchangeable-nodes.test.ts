import assert from "node:assert/strict";
import { generateKeyPair } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { createLogger } from "../../../api/logger.js";
import { openService, serve, type Service, type Serving } from "../../../api/main.js";
import { defaultLoginLimits } from "../../../ca/operators/login-throttle.js";
import type { OperatorRole } from "../../../ca/operators/roles.js";
import { application, cardKey, derOfPem, type CardKey, type IssuanceAnswer } from "../../e2e/support/issuance-e2e.js";
import { requirePostgresUrl } from "../../support/database.js";
import { request, requestJson, type HttpAnswer } from "../../support/https-client.js";
import { defaultWorkstation, startTestService, type TestService } from "../../support/service-harness.js";
import { buildRequest, certIdUnder } from "../../unit/ocsp/fixtures.js";
import { readResponse } from "../../unit/ocsp/read-response.js";

/**
 * Issue 14 item 2, docs/cluster.md "Nodes are interchangeable": two nodes — two services opened and
 * served in this process, each with its own pools, caches and in-memory state, on one PostgreSQL
 * database and one SoftHSM token — and requests alternating between them. Whatever a node keeps only
 * in memory would show here as a node answering differently: a session unknown to the other node, a
 * retry issuing new certificates, a lockout or throttle counted per node, an approval the other node
 * cannot see, a revoked certificate answered "good".
 */
const generateRsa = promisify(generateKeyPair);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Node {
  readonly name: "A" | "B";
  readonly httpUrl: string;
  readonly httpsUrl: string;
}

describe("cluster: nodes are interchangeable (issue 14 item 2)", function () {
  this.timeout(60_000);
  let ts: TestService;
  let serviceB: Service | undefined;
  let servingB: Serving | undefined;
  let A: Node;
  let B: Node;
  let keys: CardKey[] = [];
  let nextKey = 0;
  let apiKey = "";
  const runId = `${process.pid}-${Date.now().toString(36)}`;

  before(async function () {
    this.timeout(120_000);
    requirePostgresUrl(this);
    const pairs = Promise.all(Array.from({ length: 6 }, () => generateRsa("rsa", { modulusLength: 2048, publicExponent: 65537 })));
    // Node A: the harness's service (ceremony done, serving; it takes every job lease first).
    ts = await startTestService({ name: "interchangeable", engine: "postgres" });
    // Node B: a service of its own on the same configuration — the same database URL, token and var
    // dir (TLS material), as a second process or machine would have — with its own stores, caches,
    // HSM sessions, lease keeper and listeners.
    serviceB = await openService(ts.config, { logger: createLogger("silent") });
    servingB = await serve(serviceB);
    A = { name: "A", httpUrl: ts.httpUrl, httpsUrl: ts.httpsUrl };
    B = { name: "B", httpUrl: servingB.httpUrl, httpsUrl: servingB.httpsUrl };
    keys = (await pairs).map(cardKey);
    apiKey = (JSON.parse(await readFile(join(ts.config.demoDir, "relying-party.json"), "utf8")) as { apiKey: string }).apiKey;
  });

  after(async () => {
    // Node B first: its HSM object did not initialise the library, so it does not finalise it under A.
    await servingB?.close();
    await serviceB?.close();
    await ts?.close();
  });

  // Failed logins of one test must not throttle the next one's logins (same client certificates).
  const forgetLoginAttempts = async (): Promise<void> => {
    await ts.service.db.knex("login_attempts").delete();
  };
  beforeEach(forgetLoginAttempts);
  afterEach(forgetLoginAttempts);

  const login = async (node: Node, role: OperatorRole, password?: string): Promise<HttpAnswer> => {
    const op = ts.demo.operators[role];
    return requestJson(`${node.httpsUrl}/v1/sessions`, "POST", { operatorId: op.operatorId, password: password ?? op.password }, ts.tls(defaultWorkstation(role)));
  };
  const tokenOf = async (node: Node, role: OperatorRole): Promise<string> => {
    const r = await login(node, role);
    assert.equal(r.status, 201, `login of ${role} on ${node.name}: ${r.body.toString("utf8")}`);
    return r.json<{ token: string }>().token;
  };
  const call = (node: Node, method: string, path: string, token: string, o: { client?: "terminal" | "admin"; body?: unknown; headers?: Record<string, string> } = {}): Promise<HttpAnswer> => {
    const tls = ts.tls(o.client ?? "terminal");
    const headers = { Authorization: `Bearer ${token}`, ...o.headers };
    return o.body === undefined ? request(`${node.httpsUrl}${path}`, { method, tls, headers }) : requestJson(`${node.httpsUrl}${path}`, method, o.body, tls, headers);
  };
  /** A body for a resident of this run (a new resident each time: certificates of one never supersede another's). */
  const issuanceBody = (): Record<string, unknown> => {
    const i = nextKey;
    nextKey += 2;
    assert.ok(i + 1 < keys.length, "enough card keys generated in before()");
    return application(
      [
        { kind: "sign", csr: keys[i]!.csr },
        { kind: "auth", csr: keys[i + 1]!.csr },
      ],
      { residentCode: String(20_000_000_000 + (process.pid % 1_000_000) * 1000 + i) },
    );
  };
  const issue = (node: Node, token: string, idempotencyKey: string, body: unknown): Promise<HttpAnswer> =>
    call(node, "POST", "/v1/issuances", token, { body, headers: { "Idempotency-Key": idempotencyKey } });
  const certificatesOf = (r: HttpAnswer): string[] => r.json<IssuanceAnswer>().certificates.map((c) => `${c.kind}:${c.serialNumber}:${c.certificate}`);

  it("an operator session opened on A works on B; logged off on B, it is refused on A", async () => {
    const token = await tokenOf(A, "terminal-operator");
    // An authenticated read of an unknown serial: 404 with a valid session, 401 without one.
    const probe = (node: Node): Promise<HttpAnswer> => call(node, "GET", "/v1/certificates/7f0000000000000000000000000000aa", token);
    assert.equal((await probe(B)).status, 404, "B knows the session A opened");
    assert.equal((await probe(A)).status, 404);
    const off = await call(B, "DELETE", "/v1/sessions/current", token);
    assert.ok(off.status === 204 || off.status === 200, `log off on B: ${off.status}`);
    assert.equal((await probe(A)).status, 401, "A refuses the session ended on B");
    assert.equal((await probe(B)).status, 401);
  });

  it("a terminal's issuance on A retried on B (and retried on both at once) answers the same certificates", async () => {
    const token = await tokenOf(A, "terminal-operator");
    const body = issuanceBody();
    const key = `nodes-${runId}-1`;
    const first = await issue(A, token, key, body);
    assert.equal(first.status, 201, first.body.toString("utf8"));
    const retry = await issue(B, token, key, body);
    assert.equal(retry.status, 201, retry.body.toString("utf8"));
    assert.equal(retry.headers["idempotent-replayed"], "true", "B answered from the record A wrote");
    assert.deepEqual(certificatesOf(retry), certificatesOf(first));
    const other = await issue(B, token, key, { ...body, applicationDate: "2000-01-01" });
    assert.equal(other.status === 409 || other.status === 400, true, `the key with another body is refused on B: ${other.status}`);

    // The same new request sent to both nodes at the same time (a client that timed out on one and
    // retried on the other): one issuance, one answer.
    const both = issuanceBody();
    const key2 = `nodes-${runId}-2`;
    const [onA, onB] = await Promise.all([issue(A, token, key2, both), issue(B, token, key2, both)]);
    assert.equal(onA.status, 201, onA.body.toString("utf8"));
    assert.equal(onB.status, 201, onB.body.toString("utf8"));
    assert.deepEqual(certificatesOf(onA), certificatesOf(onB));
    const rows = await ts.service.db.knex("issuances").where({ idempotency_key: key2 }).count<Array<{ count: string }>>("* as count");
    assert.equal(Number(rows[0]!.count), 1, "one issuance record for the key");
  });

  it("failed logins on A and B count towards one lockout, which ends the operator's session on both", async () => {
    const role: OperatorRole = "auditor";
    const operatorId = ts.demo.operators[role].operatorId;
    const session = await tokenOf(B, role);
    const readApprovals = (node: Node): Promise<HttpAnswer> => call(node, "GET", "/v1/admin/approvals", session, { client: "admin" });
    assert.equal((await readApprovals(A)).status, 200);
    try {
      // Three consecutive failures (告示334号 第4-4(8)), spread over the nodes: A, B, A.
      for (const node of [A, B, A]) assert.equal((await login(node, role, "not-the-password-1")).status, 401);
      const locked = await ts.service.db.knex("operators").where({ operator_id: operatorId }).first<{ locked_at: Date | null; failed_attempts: number }>();
      assert.notEqual(locked?.locked_at ?? null, null, "locked after 3 failures counted across both nodes");
      assert.equal((await login(B, role)).status, 401, "the right password is refused on B once locked");
      assert.equal((await readApprovals(A)).status, 401, "the open session is refused on A");
      assert.equal((await readApprovals(B)).status, 401, "and on B");
      // The security officer unlocks on A; the operator logs in on B.
      const so = await tokenOf(A, "security-officer");
      assert.equal((await call(A, "POST", `/v1/admin/operators/${operatorId}/unlock`, so, { client: "admin", body: {} })).status, 200);
      assert.equal((await login(B, role)).status, 201);
    } finally {
      await ts.service.db.knex("operators").where({ operator_id: operatorId }).update({ locked_at: null, failed_attempts: 0 });
    }
  });

  it("failed logins on A and B count towards one throttle per client certificate", async () => {
    const per = defaultLoginLimits.perCertificate; // api/wiring/operator-auth.ts uses the defaults
    // Unknown operator ids: counted by the throttle, locking nobody.
    const guess = (node: Node, i: number): Promise<HttpAnswer> =>
      requestJson(`${node.httpsUrl}/v1/sessions`, "POST", { operatorId: `nobody-${i}`, password: "not-the-password-2" }, ts.tls("terminal"));
    for (let i = 0; i < per; i++) {
      const node = i % 2 === 0 ? A : B;
      assert.equal((await guess(node, i)).status, 401, `attempt ${i + 1} on ${node.name} is counted, not refused`);
    }
    // Each node saw only half of them: a limit held in memory would let both through.
    for (const node of [A, B]) {
      const r = await guess(node, per);
      assert.equal(r.status, 429, `attempt past the limit on ${node.name}`);
      assert.ok(Number(r.headers["retry-after"]) >= 1, "with Retry-After");
    }
  });

  it("an approval requested on A is approved on B by a second officer, and collected on A", async () => {
    const requester = await tokenOf(A, "ca-operator");
    const approver = await tokenOf(B, "ca-admin");
    const asked = await call(A, "POST", "/v1/admin/exports", requester, { client: "admin", body: { from: "2026-01-01", to: "2026-12-31", format: "csv", purpose: "年度統計" } });
    assert.equal(asked.status, 202, asked.body.toString("utf8"));
    const { approvalId } = asked.json<{ approvalId: string }>();
    assert.equal((await call(B, "GET", `/v1/admin/approvals/${approvalId}`, approver, { client: "admin" })).json<{ status: string }>().status, "pending", "B sees A's request");
    assert.equal((await call(B, "POST", `/v1/admin/approvals/${approvalId}/approve`, requester, { client: "admin", body: {} })).status, 403, "not by its requester, on any node");
    const approved = await call(B, "POST", `/v1/admin/approvals/${approvalId}/approve`, approver, { client: "admin", body: {} });
    assert.equal(approved.status, 200, approved.body.toString("utf8"));
    assert.equal(approved.json<{ status: string }>().status, "executed");
    assert.equal((await call(A, "POST", `/v1/admin/approvals/${approvalId}/approve`, approver, { client: "admin", body: {} })).status, 409, "decided: A refuses a second approval");
    const file = await call(A, "GET", `/v1/admin/exports/${approvalId}`, requester, { client: "admin" });
    assert.equal(file.status, 200, "A streams what B approved");
    assert.equal((await call(B, "GET", `/v1/admin/exports/${approvalId}`, requester, { client: "admin" })).status, 409, "once, whichever node");
  });

  it("a revocation on A is answered revoked by OCSP on B within 1 s", async () => {
    const token = await tokenOf(A, "terminal-operator");
    const issued = await issue(A, token, `nodes-${runId}-3`, issuanceBody());
    assert.equal(issued.status, 201, issued.body.toString("utf8"));
    const auth = issued.json<IssuanceAnswer>().certificates.find((c) => c.kind === "auth")!;
    // A copy of exactly these bytes: a small Buffer is a view into a shared pool, which the parser would read whole.
    const caDer = new Uint8Array(derOfPem(auth.caCertificate));
    const path = `/ocsp/${encodeURIComponent(Buffer.from(buildRequest([certIdUnder(caDer, auth.serialNumber)])).toString("base64"))}`;
    const ocspOn = async (node: Node): Promise<string> => {
      const r = await request(`${node.httpUrl}${path}`, { headers: { Authorization: `Bearer ${apiKey}` } });
      assert.equal(r.status, 200);
      const read = readResponse(new Uint8Array(r.body));
      assert.equal(read.status, 0, "successful");
      return read.responses[0]!.status;
    };
    // B answers (and so holds in memory) "good" first: the revocation must replace what B remembers.
    assert.equal(await ocspOn(B), "good");
    assert.equal(await ocspOn(B), "good");
    const revoked = await call(A, "POST", `/v1/certificates/${auth.serialNumber}/revocation`, token, { body: { reason: "unspecified" } });
    assert.equal(revoked.status, 200, revoked.body.toString("utf8"));
    const at = Date.now();
    let status = await ocspOn(B);
    while (status !== "revoked" && Date.now() - at < 3000) {
      await sleep(20);
      status = await ocspOn(B);
    }
    const ms = Date.now() - at;
    assert.equal(status, "revoked");
    console.log(`      (revoked on A, answered revoked by OCSP on B after ${ms} ms)`);
    assert.ok(ms < 1000, `within 1 s (took ${ms} ms)`);
    assert.equal(await ocspOn(A), "revoked");
  });
});
