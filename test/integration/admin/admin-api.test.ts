import assert from "node:assert/strict";
import { auditVerify, retentionRun } from "../../../cli/audit-commands.js";
import { request, type ClientCredentials } from "../../support/https-client.js";
import { startTestService, type TestService } from "../../support/service-harness.js";
import { KnexCrlAccessLog } from "../../../db/crl-access-log.js";
import { startAdminApp, type AdminTestApp } from "./admin-app.js";

type Json = Record<string, any>;
const PURPOSE = "住民からの開示請求への対応";

/**
 * The admin API end to end over mTLS on a started service (SoftHSM, PGlite, demo operators): the
 * controls of docs/domain.md §6 that belong to the admin side, each through the API (and the CLI functions).
 */
describe("admin API (docs/api.md §7) over mTLS", function () {
  this.timeout(120_000);
  let ts: TestService;
  let app: AdminTestApp;
  let so: string;
  let ope: string;
  let kansa: string;
  let adm: string;

  before(async () => {
    ts = await startTestService({ name: "admin-api", engine: "pglite" });
    app = await startAdminApp(ts);
    so = await app.login("security-officer");
    ope = await app.login("ca-operator");
    kansa = await app.login("auditor");
    adm = await app.login("ca-admin");
  });
  after(async () => {
    await app?.close();
    await ts?.close();
  });

  it("operators: a four-eyes account is created when a second security officer approves, with a split one-time password; duties kept apart, deactivated, reset, unlocked", async () => {
    const so2 = await app.login("security-officer", "admin", (ts.demo.operators as unknown as Record<string, { operatorId: string; password: string }>)["security-officer-2"]);
    const both = await app.call("POST", "/v1/admin/operators", { token: so, body: { operatorId: "sato", roles: ["security-officer", "ca-admin"] } });
    assert.equal(both.status, 422);
    assert.equal(both.json().field, "roles");
    const asked = await app.call("POST", "/v1/admin/operators", { token: so, body: { operatorId: "sato", roles: ["ca-operator"], displayName: "佐藤" } });
    assert.equal(asked.status, 202, asked.body.toString());
    assert.equal(asked.headers["cache-control"], "no-store");
    assert.equal(asked.json().oneTimePassword, undefined);
    const approved = await app.call("POST", `/v1/admin/approvals/${asked.json().approvalId}/approve`, { token: so2 });
    assert.equal(approved.status, 200, approved.body.toString());
    assert.equal(approved.headers["cache-control"], "no-store");
    const first = await app.call("POST", `/v1/admin/approvals/${asked.json().approvalId}/handover`, { token: so });
    assert.equal(first.status, 200, first.body.toString());
    const oneTimePassword = `${first.json().requesterPart}${approved.json().handover.approverPart}`;
    const logon = await app.call("POST", "/v1/sessions", { body: { operatorId: "sato", password: oneTimePassword } });
    assert.equal(logon.json().mustChangePassword, true);
    const sato = (await app.call("GET", "/v1/admin/operators/sato", { token: so })).json();
    assert.deepEqual([sato.confirmedBy, sato.sponsors], ["demo-security-officer-2", ["demo-security-officer"]]);
    // Locked out after three failures, unlocked by the security officer alone (it grants nothing).
    for (let i = 0; i < 3; i++) await app.call("POST", "/v1/sessions", { body: { operatorId: "sato", password: "wrong-password-x" } });
    assert.equal((await app.call("GET", "/v1/admin/operators/sato", { token: so })).json().locked, true);
    assert.equal((await app.call("POST", "/v1/admin/operators/sato/unlock", { token: so })).json().locked, false);
    // A reset is a request too; so (a sponsor of sato) asks, so2 approves.
    const reset = await app.call("POST", "/v1/admin/operators/sato/password", { token: so, body: { mode: "reset" } });
    assert.equal(reset.status, 202);
    const resetDone = await app.call("POST", `/v1/admin/approvals/${reset.json().approvalId}/approve`, { token: so2 });
    assert.equal(resetDone.json().status, "executed", resetDone.body.toString());
    const resetFirst = (await app.call("POST", `/v1/admin/approvals/${reset.json().approvalId}/handover`, { token: so })).json().requesterPart as string;
    const newPassword = `${resetFirst}${resetDone.json().handover.approverPart}`;
    assert.notEqual(newPassword, oneTimePassword);
    // Adding auditor to a confirmed ca-operator grants no four-eyes role: at once.
    assert.equal((await app.call("POST", "/v1/admin/operators/sato/roles", { token: so, body: { roles: ["ca-operator", "auditor"] } })).json().roles.join(), "ca-operator,auditor");
    assert.equal((await app.call("POST", "/v1/admin/operators/sato/deactivate", { token: so })).json().active, false);
    assert.equal((await app.call("POST", "/v1/sessions", { body: { operatorId: "sato", password: newPassword } })).status, 401);
    const self = await app.call("POST", `/v1/admin/operators/${ts.demo.operators["security-officer"].operatorId}/deactivate`, { token: so });
    assert.equal(self.status, 403);
    assert.ok((await app.call("GET", "/v1/admin/operators", { token: so })).json().operators.some((o: Json) => o.operatorId === "sato" && o.active === false));
  });

  it("bulk export: requested, refused to its requester's own approval, approved by another operator, streamed once", async () => {
    const asked = await app.call("POST", "/v1/admin/exports", { token: ope, body: { from: "2026-01-01", to: "2026-12-31", format: "csv", purpose: "年度統計" } });
    assert.equal(asked.status, 202);
    const { approvalId } = asked.json<Json>();
    assert.equal((await app.call("GET", `/v1/admin/exports/${approvalId}`, { token: ope })).status, 409, "no output before approval");
    const selfApproval = await app.call("POST", `/v1/admin/approvals/${approvalId}/approve`, { token: ope });
    assert.equal(selfApproval.status, 403);
    assert.match(selfApproval.json().detail, /own request/);
    assert.equal((await app.call("POST", `/v1/admin/approvals/${approvalId}/approve`, { token: kansa })).status, 403, "an auditor is no approver");
    const approved = await app.call("POST", `/v1/admin/approvals/${approvalId}/approve`, { token: adm });
    assert.equal(approved.status, 200);
    assert.equal(approved.json().status, "executed");
    const file = await app.call("GET", `/v1/admin/exports/${approvalId}`, { token: ope });
    assert.equal(file.status, 200);
    assert.match(String(file.headers["content-type"]), /^text\/csv/);
    assert.match(String(file.headers["content-disposition"]), /issuances-2026-01-01-2026-12-31\.csv/);
    assert.match(file.body.toString("utf8"), /^issuanceId,createdAt,/);
    assert.equal((await app.call("GET", `/v1/admin/exports/${approvalId}`, { token: ope })).status, 409, "once");
    const steps = (await app.call("GET", `/v1/admin/audit?from=2000-01-01&to=2100-01-01&limit=1000`, { token: kansa })).json<Json>().entries
      .filter((e: Json) => e.subject === `approval:${approvalId}`)
      .map((e: Json) => `${e.action}:${e.outcome}`);
    // The auditor is stopped at the route (no approver role at all); the self-approval by the engine, on record.
    assert.deepEqual(steps, ["approval.requested:success", "approval.approve:denied", "approval.approved:success", "approval.executed:success", "approval.collected:success", "export.streamed:success"]);
  });

  it("limited inquiries: exact searches with a purpose; wildcards and listing refused; every inquiry audited", async () => {
    const ok = await app.call("GET", `/v1/admin/certificates?residentCode=12345678901&purpose=${encodeURIComponent(PURPOSE)}`, { token: kansa });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json().certificates, []);
    const refused = [
      `/v1/admin/certificates?residentCode=12345678901`,
      `/v1/admin/certificates?purpose=${encodeURIComponent(PURPOSE)}`,
      `/v1/admin/certificates?name=${encodeURIComponent("山田*")}&dateOfBirth=1980-02-17&purpose=${encodeURIComponent(PURPOSE)}`,
      `/v1/admin/certificates?name=${encodeURIComponent("山田　太郎")}&purpose=${encodeURIComponent(PURPOSE)}`,
      `/v1/admin/certificates?serial=40&limit=1000&purpose=${encodeURIComponent(PURPOSE)}`,
    ];
    for (const path of refused) assert.equal((await app.call("GET", path, { token: ope })).status, 400, path);
    const entries = (await app.call("GET", "/v1/admin/audit?from=2000-01-01&to=2100-01-01&action=inquiry.certificates", { token: kansa })).json<Json>().entries;
    assert.equal(entries.length, 1 + refused.length);
    assert.deepEqual(entries[0].detail, { conditions: { by: "residentCode", residentCode: "12345678901" }, purpose: PURPOSE, resultCount: 0 });
    assert.equal(entries[0].actor, `operator:${ts.demo.operators.auditor.operatorId}`);
    assert.ok(entries.slice(1).every((e: Json) => e.outcome === "denied"));
  });

  it("disclosure report as JSON and CSV", async () => {
    const json = await app.call("GET", "/v1/admin/disclosures/12345678901", { token: kansa });
    assert.equal(json.status, 200);
    assert.deepEqual(json.json().sections.map((s: Json) => s.name), ["certificates", "resident-events", "relying-party-access", "certificate-links", "consents", "relying-party-provisions"]);
    const csv = await app.call("GET", "/v1/admin/disclosures/12345678901?format=csv", { token: kansa });
    assert.match(String(csv.headers["content-type"]), /^text\/csv/);
    assert.match(csv.body.toString("utf8"), /^section,at,category,serial,party,detail\r\n/);
    assert.equal((await app.call("GET", "/v1/admin/disclosures/1234", { token: kansa })).status, 400);
  });

  it("terminals: enrolment answers a working client certificate once; revocation shuts it out", async () => {
    const enrolled = await app.call("POST", "/v1/admin/terminals", { token: ope, body: { terminalId: "counter-77", municipalityCode: "131041", operatingHours: { open: "00:00", close: "23:59", weekdays: [1, 2, 3, 4, 5, 6, 7], openOnHolidays: true } } });
    assert.equal(enrolled.status, 201);
    assert.equal(enrolled.headers["cache-control"], "no-store");
    const t = enrolled.json<Json>();
    const creds: ClientCredentials = { ca: ts.demo.tlsCa, cert: t.certificate, key: t.privateKey };
    const login = () => request(`${app.listeners.httpsUrl}/v1/sessions`, { method: "POST", tls: creds, headers: { "content-type": "application/json" }, body: JSON.stringify(ts.demo.operators["terminal-operator"]) });
    assert.equal((await login()).status, 201);
    assert.ok((await app.call("GET", "/v1/admin/terminals", { token: ope })).json().terminals.some((x: Json) => x.terminalId === "counter-77" && x.status === "active"));
    assert.equal((await app.call("DELETE", "/v1/admin/terminals/counter-77", { token: ope })).status, 204);
    assert.equal((await login()).status, 403);
  });

  it("relying parties: API key and client certificate shown once; deactivation", async () => {
    const r = await app.call("POST", "/v1/admin/relying-parties", { token: ope, body: { id: "bank-9", name: "Bank 9", credentials: ["api-key", "certificate"] } });
    assert.equal(r.status, 201);
    const body = r.json<Json>();
    assert.match(body.apiKey, /^rp_/);
    assert.match(body.certificate, /BEGIN CERTIFICATE/);
    assert.match(body.privateKey, /BEGIN PRIVATE KEY/);
    const rp = ts.service.relyingParties;
    assert.equal((await rp.byApiKey(body.apiKey))?.id, "bank-9");
    assert.equal((await app.call("DELETE", "/v1/admin/relying-parties/bank-9", { token: ope })).status, 204);
    assert.equal(await rp.byApiKey(body.apiKey), undefined);
    const certOnly = await app.call("POST", "/v1/admin/relying-parties", { token: ope, body: { id: "kiosk-9", name: "Kiosk", credentials: ["certificate"] } });
    assert.equal(certOnly.json().apiKey, undefined);
    assert.equal((await rp.byCertificateId("kiosk-9"))?.id, "kiosk-9");
  });

  it("CRL reads of a registered party are recorded (party, CRL, number, time), 304s too; without a key: 401, nothing recorded", async () => {
    const r = await app.call("POST", "/v1/admin/relying-parties", { token: ope, body: { id: "kiosk-crl", name: "Kiosk CRL", credentials: ["api-key"] } });
    const { apiKey } = r.json<Json>();
    const url = `${ts.httpUrl}/crl/auth-g1/0.crl`;
    const withKey = { headers: { authorization: `Bearer ${apiKey}` } };
    let first = await request(url, withKey);
    for (let i = 0; i < 100 && first.status === 404; i++) {
      await new Promise((res) => setTimeout(res, 100)); // the holder of the "crl-scheduler" lease publishes the first CRLs at start
      first = await request(url, withKey);
    }
    assert.equal(first.status, 200);
    assert.equal((await request(url)).status, 401);
    const again = await request(url, { headers: { ...withKey.headers, "if-none-match": String(first.headers.etag) } });
    assert.equal(again.status, 304);
    assert.equal((await request(`${ts.httpUrl}/crl/auth-g1/0-delta.crl`, withKey)).status, 200);
    const log = new KnexCrlAccessLog(ts.service.db);
    let reads: Awaited<ReturnType<typeof log.readsOf>> = [];
    for (let i = 0; i < 60 && reads.length < 3; i++) {
      await new Promise((res) => setTimeout(res, 50)); // written in batches, at least once a second
      reads = await log.readsOf("kiosk-crl");
    }
    assert.deepEqual(
      reads.map((x) => [x.party, x.caId, x.partition, x.kind]),
      [
        ["kiosk-crl", "auth-g1", 0, "full"],
        ["kiosk-crl", "auth-g1", 0, "full"],
        ["kiosk-crl", "auth-g1", 0, "delta"],
      ],
    );
    assert.ok(reads.every((x) => Number.isInteger(x.number) && x.number >= 1 && Math.abs(x.at.getTime() - Date.now()) < 60_000));
    assert.equal(reads.length, 3, "the refused read is not recorded");
  });

  it("audit: a checkpoint signed with the HSM key, the whole chain verified by the API and by `audit verify`", async () => {
    const cp = await app.call("POST", "/v1/admin/audit/checkpoints", { token: kansa });
    assert.equal(cp.status, 201);
    const v = await app.call("POST", "/v1/admin/audit/verify", { token: kansa });
    assert.equal(v.status, 200);
    const verdict = v.json<Json>();
    assert.equal(verdict.ok, true, JSON.stringify(verdict.findings));
    assert.ok(verdict.checkpoints.valid >= 1);
    assert.equal(verdict.checkpoints.valid, verdict.checkpoints.checked);
    assert.ok((await ts.service.hsm.findKey("audit-checkpoint")) !== undefined, "the key lives in the token");
    const lines: string[] = [];
    assert.equal(await auditVerify(ts.service, [], (l) => void lines.push(l)), 0);
    assert.match(lines[0]!, /^audit log verifies/);
    const listed = (await app.call("GET", "/v1/admin/audit/checkpoints", { token: kansa })).json<Json>().checkpoints;
    assert.ok(listed.some((c: Json) => c.kind === "manual"));
  });

  it("retention: a dry run, and a purge only with a second operator's approval", async () => {
    const dry = await app.call("POST", "/v1/admin/retention/dry-run", { token: adm });
    assert.equal(dry.status, 200);
    assert.deepEqual(dry.json().tasks.map((t: Json) => t.name), ["audit-log", "superseded-resident-records", "relying-party-access-records", "relying-party-crl-reads", "relying-party-provisions", "withdrawn-consents", "certificate-personal-fields"]);
    assert.ok(dry.json().tasks.every((t: Json) => t.purged === null));
    const asked = await app.call("POST", "/v1/admin/retention/purges", { token: adm, body: { purpose: "定期の保存期間管理" } });
    assert.equal(asked.status, 202);
    const id = asked.json().approvalId;
    assert.equal((await app.call("POST", `/v1/admin/approvals/${id}/approve`, { token: adm })).status, 403);
    const done = await app.call("POST", `/v1/admin/approvals/${id}/approve`, { token: so });
    assert.equal(done.json().status, "executed");
    const lines: string[] = [];
    assert.equal(await retentionRun(ts.service, ["--dry-run"], (l) => void lines.push(l)), 0);
    assert.match(lines[0]!, /dry run \(nothing changed\)/);
  });

  it("a new CA generation: asked by the CA administrator, made only when a security officer approves", async () => {
    const asked = await app.call("POST", "/v1/admin/ca/auth/generations", { token: adm });
    assert.equal(asked.status, 202);
    const id = asked.json().approvalId;
    assert.equal((await app.call("GET", `/ca/auth-g2.crt`, {})).status, 404, "nothing made before the approval");
    assert.equal((await app.call("POST", `/v1/admin/approvals/${id}/approve`, { token: adm })).status, 403, "not by the requester");
    const done = await app.call("POST", `/v1/admin/approvals/${id}/approve`, { token: so });
    assert.equal(done.json().status, "executed", JSON.stringify(done.json()));
    const gen = await ts.service.stores.caGenerations.get("auth-g2");
    assert.ok(gen, "auth-g2 recorded");
    assert.equal(gen.serialPrefix, 66);
    assert.ok(gen.ocspResponderCertificate, "with its OCSP responder");
    assert.equal((await app.call("POST", "/v1/admin/ca/other/generations", { token: adm })).status, 400);
  });

  it("a mass revocation above the threshold needs a second operator's approval; a small one runs at once", async () => {
    const serials = Array.from({ length: 11 }, (_, i) => `7f${String(i).padStart(30, "0")}`);
    const small = await app.call("POST", "/v1/admin/revocations", { token: ope, body: { serials: serials.slice(0, 2), reason: "keyCompromise" } });
    assert.equal(small.status, 200);
    assert.equal(small.json().refused.length, 2, "unknown serials are refused one by one, not fatal");
    const big = await app.call("POST", "/v1/admin/revocations", { token: ope, body: { serials, reason: "keyCompromise" } });
    assert.equal(big.status, 202);
    const id = big.json().approvalId;
    assert.equal((await app.call("POST", `/v1/admin/approvals/${id}/approve`, { token: ope })).status, 403, "not by the requester");
    const done = await app.call("POST", `/v1/admin/approvals/${id}/approve`, { token: adm });
    assert.equal(done.json().status, "executed", JSON.stringify(done.json()));
    assert.equal((await app.call("POST", "/v1/admin/revocations", { token: ope, body: { serials, reason: "certificateHold" } })).status, 400);
  });
});
