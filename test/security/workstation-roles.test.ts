/**
 * Issue 12 item 2, as attacks on a running service (HTTPS with client certificates, SoftHSM, PGlite):
 *
 * - "an operator's role is not tied to the kind of client certificate": CA-side roles logged in on a
 *   counter-terminal certificate, a ca-operator at the counter revoked with cACompromise, a
 *   terminal-operator revoked from an admin workstation;
 * - "admin-workstation and feed client certificates are never checked against a register and cannot be
 *   revoked": a service-CA certificate `OU=admin, CN=never-registered-ws` logged in (201).
 *
 * Each test failed on the main branch before issue 12.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { clientCertificateCommand } from "../../cli/client-certificate-commands.js";
import { operatorAuthOf } from "../../cli/operator-commands.js";
import { request, requestJson, type ClientCredentials, type HttpAnswer } from "../support/https-client.js";
import { repoRoot, startTestService, type TestService } from "../support/service-harness.js";
import { loginOver, mintServiceClient } from "./support/service-ca-client.js";

const PASSWORD = "Kq7#mZp2xW9v-dual";
const FAKE_SERIAL = "7f0102030405060708090a0b0c0d0e0f";

describe("security: roles bound to the kind of workstation, registered admin and feed certificates", function () {
  this.timeout(180_000);
  let t: TestService;
  let serial = 1000n;

  before(async () => {
    t = await startTestService({ name: "sec-workstation", engine: "pglite" });
    // A clerk who is also a CA operator (separation of duties allows it): which roles count depends on where they sit.
    await operatorAuthOf(t.service).addOperator("cli", { operatorId: "dual-role", roles: ["terminal-operator", "ca-operator"], password: PASSWORD, ready: true });
  });
  after(async () => {
    await t?.close();
  });

  /** A certificate of the service CA, as anyone holding its key (or a copy of one handed out) could present. */
  const mint = async (role: "admin" | "feed" | "terminal", id: string): Promise<ClientCredentials> => (await mintServiceClient(t, role, id, serial++)).credentials;

  const login = (operatorId: string, password: string, tls: ClientCredentials): Promise<HttpAnswer> => loginOver(t, operatorId, password, tls);
  const unknownAnswer = async (tls: ClientCredentials) => (await login("no-such-operator", "wrong-password-x", tls)).json<Record<string, unknown>>();

  it("refuses ca-operator, security-officer, auditor and ca-admin on a counter-terminal certificate (the 401 of a bad password)", async () => {
    const expected = await unknownAnswer(t.tls("terminal"));
    for (const role of ["ca-operator", "security-officer", "auditor", "ca-admin"] as const) {
      const op = t.demo.operators[role];
      const r = await login(op.operatorId, op.password, t.tls("terminal"));
      assert.equal(r.status, 401, `${role} at the counter`);
      assert.deepEqual(r.json(), expected, `${role}: the answer must not confirm the password`);
    }
  });

  it("refuses a terminal-operator on an admin-workstation certificate", async () => {
    const op = t.demo.operators["terminal-operator"];
    const r = await login(op.operatorId, op.password, t.tls("admin"));
    assert.equal(r.status, 401);
    assert.deepEqual(r.json(), await unknownAnswer(t.tls("admin")));
  });

  it("a ca-operator at the counter cannot revoke with cACompromise: only the terminal-operator role counts there", async () => {
    const atCounter = (await login("dual-role", PASSWORD, t.tls("terminal"))).json<{ token: string }>().token;
    const counter = await requestJson(`${t.httpsUrl}/v1/certificates/${FAKE_SERIAL}/revocation`, "POST", { reason: "cACompromise" }, t.tls("terminal"), { authorization: `Bearer ${atCounter}` });
    assert.equal(counter.status, 403, counter.body.toString());
    // The same person at an admin workstation is a CA operator: past the role check (the serial is unknown: 404).
    const atAdmin = (await login("dual-role", PASSWORD, t.tls("admin"))).json<{ token: string }>().token;
    const admin = await requestJson(`${t.httpsUrl}/v1/certificates/${FAKE_SERIAL}/revocation`, "POST", { reason: "cACompromise" }, t.tls("admin"), { authorization: `Bearer ${atAdmin}` });
    assert.equal(admin.status, 404, admin.body.toString());
  });

  it("refuses a never-registered admin certificate at login and on every request (403)", async () => {
    const rogue = await mint("admin", "never-registered-ws");
    const so = t.demo.operators["security-officer"];
    const r = await login(so.operatorId, so.password, rogue);
    assert.equal(r.status, 403, r.body.toString());
    const audited = (await t.service.stores.audit.range(1, 100_000)).filter((e) => e.action === "operator.login" && e.actor === "admin:never-registered-ws");
    assert.deepEqual(audited.map((e) => e.outcome), ["denied"], "the refused login is audited (anomaly monitor input)");
    const token = await t.login("security-officer");
    // Even with a valid token of another workstation, the request is refused before the session is looked at.
    const list = await request(`${t.httpsUrl}/v1/admin/operators`, { tls: rogue, headers: { authorization: `Bearer ${token}` } });
    assert.equal(list.status, 403);
  });

  it("refuses a never-registered feed certificate (403) while the registered demo feed is served", async () => {
    const rogue = await mint("feed", "never-registered-feed");
    const r = await requestJson(`${t.httpsUrl}/v1/resident-events`, "POST", { events: [] }, rogue);
    assert.equal(r.status, 403, r.body.toString());
    const feed = { ca: t.demo.tlsCa, cert: await readFile(join(t.config.demoDir, "feed.pem"), "utf8"), key: await readFile(join(t.config.demoDir, "feed.key"), "utf8") };
    const ok = await requestJson(`${t.httpsUrl}/v1/resident-events`, "POST", { events: [] }, feed);
    assert.notEqual(ok.status, 403, ok.body.toString());
  });

  it("refuses a terminal certificate of the service CA that was never enrolled, on every /v1 route", async () => {
    const rogue = await mint("terminal", "demo-terminal-1"); // the id of the real one, another key
    const token = await t.login("terminal-operator");
    const r = await request(`${t.httpsUrl}/v1/certificates/${FAKE_SERIAL}`, { tls: rogue, headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 403);
  });

  it("registers, lists and revokes admin workstations through the API (security officer); a revoked one is refused at once", async () => {
    const so = await t.login("security-officer");
    const auth = { authorization: `Bearer ${so}` };
    const enrolled = await requestJson(`${t.httpsUrl}/v1/admin/workstations`, "POST", { id: "ws-security-2" }, t.tls("admin"), auth);
    assert.equal(enrolled.status, 201, enrolled.body.toString());
    assert.equal(enrolled.headers["cache-control"], "no-store");
    const body = enrolled.json<{ certificate: string; privateKey: string; workstation: { status: string } }>();
    assert.equal(body.workstation.status, "active");
    const ws: ClientCredentials = { ca: t.demo.tlsCa, cert: body.certificate, key: body.privateKey };
    const ca = t.demo.operators["ca-operator"];
    const session = await login(ca.operatorId, ca.password, ws);
    assert.equal(session.status, 201);
    const wsToken = session.json<{ token: string }>().token;
    assert.equal((await request(`${t.httpsUrl}/v1/admin/terminals`, { tls: ws, headers: { authorization: `Bearer ${wsToken}` } })).status, 200);

    const listed = await request(`${t.httpsUrl}/v1/admin/workstations`, { tls: t.tls("admin"), headers: auth });
    assert.deepEqual(listed.json<{ workstations: Array<{ id: string }> }>().workstations.map((w) => w.id).sort(), ["demo-admin-1", "ws-security-2"]);
    // Only the security officer administers the register.
    assert.equal((await request(`${t.httpsUrl}/v1/admin/workstations`, { tls: ws, headers: { authorization: `Bearer ${wsToken}` } })).status, 403);
    // Not the workstation one is sitting at.
    assert.equal((await request(`${t.httpsUrl}/v1/admin/workstations/demo-admin-1`, { method: "DELETE", tls: t.tls("admin"), headers: auth })).status, 409);

    assert.equal((await request(`${t.httpsUrl}/v1/admin/workstations/ws-security-2`, { method: "DELETE", tls: t.tls("admin"), headers: auth })).status, 204);
    assert.equal((await request(`${t.httpsUrl}/v1/admin/terminals`, { tls: ws, headers: { authorization: `Bearer ${wsToken}` } })).status, 403);
    assert.equal((await login(ca.operatorId, ca.password, ws)).status, 403);
    const after = await request(`${t.httpsUrl}/v1/admin/workstations`, { tls: t.tls("admin"), headers: auth });
    assert.equal(after.json<{ workstations: Array<{ id: string; status: string }> }>().workstations.find((w) => w.id === "ws-security-2")?.status, "revoked");
  });

  it("registers and revokes feeds through the API; a revoked feed is refused", async () => {
    const so = await t.login("security-officer");
    const auth = { authorization: `Bearer ${so}` };
    const enrolled = await requestJson(`${t.httpsUrl}/v1/admin/feeds`, "POST", { id: "register-feed-2" }, t.tls("admin"), auth);
    assert.equal(enrolled.status, 201, enrolled.body.toString());
    const body = enrolled.json<{ certificate: string; privateKey: string }>();
    const feed: ClientCredentials = { ca: t.demo.tlsCa, cert: body.certificate, key: body.privateKey };
    assert.notEqual((await requestJson(`${t.httpsUrl}/v1/resident-events`, "POST", { events: [] }, feed)).status, 403);
    assert.equal((await request(`${t.httpsUrl}/v1/admin/feeds/register-feed-2`, { method: "DELETE", tls: t.tls("admin"), headers: auth })).status, 204);
    assert.equal((await requestJson(`${t.httpsUrl}/v1/resident-events`, "POST", { events: [] }, feed)).status, 403);
  });

  it("enrols, lists and revokes workstations from the CLI", async () => {
    const out = await mkdtemp(join(repoRoot, "var/test/sec-ws-cli-"));
    const lines: string[] = [];
    try {
      assert.equal(await clientCertificateCommand(t.service, "admin", ["enrol", "ws-cli-1", "--out", out], (l) => void lines.push(l)), 0);
      const ws: ClientCredentials = { ca: t.demo.tlsCa, cert: await readFile(join(out, "ws-cli-1.pem"), "utf8"), key: await readFile(join(out, "ws-cli-1.key"), "utf8") };
      const ca = t.demo.operators["ca-operator"];
      assert.equal((await login(ca.operatorId, ca.password, ws)).status, 201);
      assert.equal(await clientCertificateCommand(t.service, "admin", ["list"], (l) => void lines.push(l)), 0);
      assert.ok(lines.some((l) => l.startsWith("ws-cli-1\tactive")));
      assert.equal(await clientCertificateCommand(t.service, "admin", ["revoke", "ws-cli-1"], (l) => void lines.push(l)), 0);
      assert.equal((await login(ca.operatorId, ca.password, ws)).status, 403);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
