import assert from "node:assert/strict";
import { operatorAdd } from "../../cli/operator-commands.js";
import type { HttpAnswer } from "../support/https-client.js";
import { startTestService, type TestService } from "../support/service-harness.js";
import { startAdminApp, type AdminTestApp } from "../integration/admin/admin-app.js";

type Json = Record<string, any>;
type Credentials = { operatorId: string; password: string };

/**
 * Issue 12, "one security officer alone completes any four-eyes operation" — the attacks of the
 * finding, as an attacker would run them against a started service (demo credentials, admin
 * workstation certificate):
 *
 * 1. the officer creates two ca-operator accounts, takes both one-time passwords, requests an export
 *    with one and approves it with the other;
 * 2. the same with a ca-admin account and a new CA generation (approved by the officer);
 * and the ways around the first fix: accounts made on the CA host without confirmation, and an officer
 * approving for an account it sponsored. Each must stop with 403 at the approval step, audited.
 */
describe("security: four-eyes that no single person can satisfy alone", function () {
  this.timeout(180_000);
  let ts: TestService;
  let app: AdminTestApp;
  let so: string;
  let so2: string;
  const newPassword = "Zs8!qPw4nRt6#Lm";

  const demo = (key: string): Credentials => (ts.demo.operators as unknown as Record<string, Credentials>)[key]!;
  const body = (r: HttpAnswer): string => r.body.toString("utf8");
  /** Logs in with a one-time password, changes it as the first logon demands, logs in again. */
  const firstLogon = async (operatorId: string, oneTimePassword: string): Promise<string> => {
    const first = await app.call("POST", "/v1/sessions", { body: { operatorId, password: oneTimePassword } });
    assert.equal(first.status, 201, body(first));
    const changed = await app.call("POST", "/v1/operators/me/password", { token: first.json().token, body: { currentPassword: oneTimePassword, newPassword } });
    assert.ok(changed.status < 300, body(changed));
    return app.login("ca-operator", "admin", { operatorId, password: newPassword });
  };
  /** The audit entries of approval refusals: "reason" of each `approval.approve` denied. */
  const refusals = async (): Promise<string[]> => {
    const { rows } = (await ts.service.db.knex.raw("select detail from audit_log where action = 'approval.approve' and outcome = 'denied' order by seq")) as { rows: Array<{ detail: unknown }> };
    return rows.map((r) => (typeof r.detail === "string" ? (JSON.parse(r.detail) as Json) : (r.detail as Json)).reason as string);
  };
  const executedExports = async (): Promise<number> => {
    const { rows } = (await ts.service.db.knex.raw("select count(*)::int as n from approvals where kind = 'issuance-export' and status = 'executed'")) as { rows: Array<{ n: number }> };
    return rows[0]!.n;
  };
  const exportBody = { from: "2026-11-01", to: "2026-11-30", purpose: "監査のための一括出力" };

  before(async () => {
    ts = await startTestService({ name: "sec-four-eyes", engine: "pglite" });
    app = await startAdminApp(ts);
    so = await app.login("security-officer");
    so2 = await app.login("security-officer", "admin", demo("security-officer-2"));
  });
  after(async () => {
    await app?.close();
    await ts?.close();
  });

  it("finding 1: one officer, two self-made ca-operator accounts, an export — refused at the approval, audited", async () => {
    const made: Array<{ operatorId: string; password?: string; approvalId?: string }> = [];
    for (const operatorId of ["mallory-a", "mallory-b"]) {
      const r = await app.call("POST", "/v1/admin/operators", { token: so, body: { operatorId, roles: ["ca-operator"] } });
      assert.ok(r.status === 201 || r.status === 202, body(r));
      made.push({ operatorId, password: r.json().oneTimePassword, approvalId: r.json().approvalId });
    }
    // Before the fix: 201 and a one-time password each. Now: a request, and no password at all.
    assert.deepEqual(made.map((m) => m.password), [undefined, undefined], "no one-time password reaches the lone officer");
    for (const m of made) {
      const self = await app.call("POST", `/v1/admin/approvals/${m.approvalId}/approve`, { token: so });
      assert.equal(self.status, 403, body(self));
      assert.equal((await app.call("GET", `/v1/admin/operators/${m.operatorId}`, { token: so })).status, 404, "no account");
    }
    assert.deepEqual((await refusals()).slice(-2), ["self-approval", "self-approval"]);
    assert.equal(await executedExports(), 0);
  });

  it("finding 1 through the CA host: accounts the CLI made without --break-glass approve nothing (403, audited)", async () => {
    const otp = async (id: string): Promise<string> => {
      const lines: string[] = [];
      assert.equal(await operatorAdd(ts.service, [id, "--role", "ca-operator"], (l) => void lines.push(l)), 0);
      assert.ok(lines.some((l) => /approves nothing until/.test(l)), lines.join("\n"));
      return lines.find((l) => l.startsWith("one-time password"))!.split(": ")[1]!;
    };
    const a = await firstLogon("host-a", await otp("host-a"));
    const b = await firstLogon("host-b", await otp("host-b"));
    const asked = await app.call("POST", "/v1/admin/exports", { token: a, body: exportBody });
    assert.equal(asked.status, 202, body(asked));
    const approved = await app.call("POST", `/v1/admin/approvals/${asked.json().approvalId}/approve`, { token: b });
    assert.equal(approved.status, 403, body(approved));
    assert.match(approved.json().detail, /confirmed/);
    assert.equal((await refusals()).at(-1), "approver-unconfirmed");
    assert.equal((await app.call("GET", `/v1/admin/exports/${asked.json().approvalId}`, { token: a })).status, 409, "nothing to download");
    assert.equal(await executedExports(), 0);
    // The break-glass path confirms alone, and says so in the audit log.
    const lines: string[] = [];
    assert.equal(await operatorAdd(ts.service, ["host-c", "--role", "ca-admin", "--break-glass"], (l) => void lines.push(l)), 0);
    assert.equal((await ts.service.stores.operators.get("host-c"))?.confirmedBy, "cli");
    const { rows } = (await ts.service.db.knex.raw("select actor, detail from audit_log where action = 'operator.confirmed' and subject = 'operator:host-c'")) as { rows: Array<{ actor: string; detail: unknown }> };
    assert.deepEqual(rows.map((r) => [r.actor, (typeof r.detail === "string" ? (JSON.parse(r.detail) as Json) : (r.detail as Json)).breakGlass]), [["cli", true]]);
  });

  it("finding 2: a ca-admin account and a new CA generation — the requesting officer never approves for the account it asked for", async () => {
    const asked = await app.call("POST", "/v1/admin/operators", { token: so, body: { operatorId: "mallory-adm", roles: ["ca-admin"] } });
    assert.equal(asked.status, 202, body(asked));
    assert.equal((await app.call("POST", `/v1/admin/approvals/${asked.json().approvalId}/approve`, { token: so })).status, 403, "not alone");
    // A second officer confirms the account; each officer holds half of its one-time password.
    const approved = await app.call("POST", `/v1/admin/approvals/${asked.json().approvalId}/approve`, { token: so2 });
    assert.equal(approved.json().status, "executed", body(approved));
    const half = await app.call("POST", `/v1/admin/approvals/${asked.json().approvalId}/handover`, { token: so });
    assert.equal(half.status, 200, body(half));
    // The requester's half alone does not log in.
    assert.equal((await app.call("POST", "/v1/sessions", { body: { operatorId: "mallory-adm", password: half.json().requesterPart } })).status, 401);
    const adm = await firstLogon("mallory-adm", `${half.json().requesterPart}${approved.json().handover.approverPart}`);
    const generation = await app.call("POST", "/v1/admin/ca/auth/generations", { token: adm });
    assert.equal(generation.status, 202, body(generation));
    const bySponsor = await app.call("POST", `/v1/admin/approvals/${generation.json().approvalId}/approve`, { token: so });
    assert.equal(bySponsor.status, 403, body(bySponsor));
    assert.equal((await refusals()).at(-1), "sponsor-of-requester");
    assert.equal((await app.call("GET", `/v1/admin/approvals/${generation.json().approvalId}`, { token: so })).json().status, "pending");
    assert.equal(await ts.service.stores.caGenerations.get("auth-g2"), undefined, "no new CA generation");
  });

  it("account changes an officer asks for are never decided by the account itself or by a sponsor", async () => {
    // so asks to reset so2's password: so2 may not decide it.
    const reset = await app.call("POST", `/v1/admin/operators/${demo("security-officer-2").operatorId}/password`, { token: so, body: { mode: "reset" } });
    assert.equal(reset.status, 202, body(reset));
    assert.equal((await app.call("POST", `/v1/admin/approvals/${reset.json().approvalId}/approve`, { token: so2 })).status, 403);
    assert.equal((await refusals()).at(-1), "own-account");
    // Granting ca-admin to a confirmed auditor: a request, refused to its requester.
    const grant = await app.call("POST", `/v1/admin/operators/${demo("auditor").operatorId}/roles`, { token: so, body: { roles: ["auditor", "ca-operator"] } });
    assert.equal(grant.status, 202, body(grant));
    assert.equal((await app.call("POST", `/v1/admin/approvals/${grant.json().approvalId}/approve`, { token: so })).status, 403);
    assert.deepEqual((await app.call("GET", `/v1/admin/operators/${demo("auditor").operatorId}`, { token: so })).json().roles, ["auditor"]);
    // A one-time password half goes to nobody but the requester.
    const created = await app.call("POST", "/v1/admin/approvals/" + grant.json().approvalId + "/handover", { token: so2 });
    assert.equal(created.status, 403);
  });
});
