import assert from "node:assert/strict";
import type { ApprovalEngine } from "../../../ca/approvals/approval-engine.js";
import type { OperatorAdmin, PendingOperatorChange } from "../../../ca/operators/operator-admin.js";
import { OPERATOR_CREATE } from "../../../ca/approvals/operator-approvals.js";
import type { OperatorAuth } from "../../../ca/operators/operator-auth.js";
import type { OperatorPrincipal } from "../../../ca/operators/operator-principal.js";
import type { OperatorRole } from "../../../ca/operators/roles.js";
import type { createMemoryOperatorStores } from "../../support/memory-operator-stores.js";
import { GOOD, operatorAdminWorld, rejectsWith, terminal, type OperatorAdminWorld } from "./operator-admin-world.js";

/**
 * Issue 12, item 3 — four-eyes that no single person can satisfy alone: account changes are
 * themselves four-eyes operations, unconfirmed accounts approve nothing, sponsors never approve for or
 * about the accounts they changed, one-time passwords are split between the two officers.
 */
describe("four-eyes account changes (ca/approvals/operator-approvals.ts, ca/approvals/approval-separation.ts)", function () {
  this.timeout(20_000);
  let stores: ReturnType<typeof createMemoryOperatorStores>;
  let auth: OperatorAuth;
  let admin: OperatorAdmin;
  let engine: ApprovalEngine;
  let so1: OperatorPrincipal;
  let so2: OperatorPrincipal;
  let so3: OperatorPrincipal;
  let generations: string[];

  let world: OperatorAdminWorld;

  const login = (operatorId: string, password = GOOD): Promise<OperatorPrincipal> => world.login(operatorId, password);
  const pendingOf = (r: object): PendingOperatorChange => {
    assert.ok("approvalId" in r, `a pending request, got ${JSON.stringify(r)}`);
    return r as PendingOperatorChange;
  };
  const denials = async (): Promise<string[]> =>
    (await stores.audit.range(1, 10_000)).filter((e) => e.outcome === "denied").map((e) => `${e.action}:${String((e.detail as { reason?: string }).reason)}`);
  /** Creates an account through the API path: so1 asks, so2 approves; returns the full password. */
  const created = async (operatorId: string, roles: OperatorRole[], requester = so1, approver = so2): Promise<string> => {
    const { approvalId } = pendingOf(await admin.add(requester, { operatorId, roles }));
    const done = await engine.approve(approver, approvalId);
    assert.equal(done.status, "executed", done.failure ?? "");
    const { requesterPart } = await engine.collectHandover(requester, approvalId);
    return requesterPart + done.approverPart!;
  };
  /** First logon: the split one-time password, then the operator's own. */
  const firstLogon = async (operatorId: string, oneTime: string): Promise<OperatorPrincipal> => {
    const p = await login(operatorId, oneTime);
    await auth.changePassword(p, oneTime, GOOD);
    return login(operatorId);
  };

  beforeEach(async () => {
    generations = [];
    world = await operatorAdminWorld(
      [["so1", "security-officer"], ["so2", "security-officer"], ["so3", "security-officer"]],
      [
        { kind: "issuance-export", description: "t", requestRoles: ["ca-operator"], approveRoles: ["ca-operator", "ca-admin"], parse: (p) => p as Record<string, unknown>, execute: async () => ({ rows: 0 }) },
        {
          kind: "ca-generation",
          description: "t",
          requestRoles: ["ca-admin"],
          approveRoles: ["security-officer"],
          parse: (p) => p as Record<string, unknown>,
          execute: async (a) => {
            generations.push(a.id);
            return {};
          },
        },
      ],
    );
    ({ stores, auth, engine, admin } = world);
    so1 = await login("so1");
    so2 = await login("so2");
    so3 = await login("so3");
  });

  it("knows which roles take part in four-eyes operations", () => {
    assert.deepEqual(engine.fourEyesRoles(), ["ca-admin", "ca-operator", "security-officer"]);
  });

  it("one officer alone creates no four-eyes account: a request, never approved by its requester", async () => {
    for (const roles of [["ca-operator"], ["ca-admin"], ["security-officer"], ["auditor", "ca-operator"]] as OperatorRole[][]) {
      const r = pendingOf(await admin.add(so1, { operatorId: `x-${roles.join("-")}`, roles }));
      assert.equal(r.kind, OPERATOR_CREATE);
      await assert.rejects(engine.approve(so1, r.approvalId), rejectsWith("forbidden", /own request/));
      assert.equal(await stores.operators.get(`x-${roles.join("-")}`), undefined, "nothing created");
    }
    // Accounts with no four-eyes role are still one officer's act.
    const direct = await admin.add(so1, { operatorId: "clerk", roles: ["terminal-operator"] });
    assert.ok("oneTimePassword" in direct && direct.oneTimePassword);
    assert.deepEqual((await stores.operators.get("clerk"))?.sponsors, ["so1"]);
  });

  it("the approval creates the account confirmed by the second officer; the password is split between the two", async () => {
    const { approvalId } = pendingOf(await admin.add(so1, { operatorId: "ope-a", roles: ["ca-operator"], displayName: "A" }));
    await assert.rejects(engine.collectHandover(so1, approvalId), rejectsWith("conflict"), "nothing before the approval");
    const done = await engine.approve(so2, approvalId);
    assert.equal(done.status, "executed");
    assert.ok(!JSON.stringify(done.result).includes(done.approverPart!), "the result (visible to auditors) holds no part of the password");
    const account = await stores.operators.get("ope-a");
    assert.deepEqual([account?.confirmedBy, account?.sponsors, account?.mustChangePassword], ["so2", ["so1"], true]);
    await assert.rejects(engine.collectHandover(so2, approvalId), rejectsWith("forbidden"), "the approver has its half already");
    const { requesterPart } = await engine.collectHandover(so1, approvalId);
    await assert.rejects(engine.collectHandover(so1, approvalId), rejectsWith("conflict"), "once");
    // Neither half alone opens the account.
    for (const half of [requesterPart, done.approverPart!]) await assert.rejects(auth.login({ operatorId: "ope-a", password: half, terminal }), rejectsWith("unauthenticated"));
    assert.equal((await login("ope-a", requesterPart + done.approverPart!)).mustChangePassword, true);
    assert.ok((await denials()).includes("approval.handover:not-requester"));
  });

  it("an account approves nothing until a second officer confirmed it (the CLI without --break-glass)", async () => {
    const oneTime = await created("ope-a", ["ca-operator"]);
    const a = await firstLogon("ope-a", oneTime);
    await auth.addOperator("cli", { operatorId: "ope-b", roles: ["ca-operator"], password: GOOD, ready: true });
    const b = await login("ope-b");
    const { id } = await engine.request(a, "issuance-export", {});
    await assert.rejects(engine.approve(b, id), rejectsWith("forbidden", /confirmed/));
    assert.ok((await denials()).includes("approval.approve:approver-unconfirmed"));
    // Confirming it is a four-eyes role request (it is unconfirmed, so even its current roles need one).
    const c = pendingOf(await admin.setRoles(so1, "ope-b", ["ca-operator"]));
    await engine.approve(so3, c.approvalId);
    assert.equal((await stores.operators.get("ope-b"))?.confirmedBy, "so3");
    assert.equal((await engine.approve(await login("ope-b"), id)).status, "executed");
  });

  it("granting a four-eyes role is a request; removing roles or adding others is at once", async () => {
    await admin.add(so1, { operatorId: "kansa", roles: ["auditor"] });
    const r = pendingOf(await admin.setRoles(so1, "kansa", ["auditor", "ca-operator"]));
    assert.deepEqual((await stores.operators.get("kansa"))?.roles, ["auditor"], "nothing granted before the approval");
    await engine.approve(so2, r.approvalId);
    const k = await stores.operators.get("kansa");
    assert.deepEqual([k?.roles, k?.confirmedBy], [["ca-operator", "auditor"], "so2"]);
    const removed = await admin.setRoles(so1, "kansa", ["ca-operator"]);
    assert.deepEqual((removed as { roles?: string[] }).roles, ["ca-operator"]);
    assert.ok("approvalId" in (await admin.setRoles(so1, "kansa", ["ca-admin"])), "ca-admin is new: four eyes");
  });

  it("a sponsor never approves a request made by the account it sponsored (the ca-admin + CA generation attack)", async () => {
    // so1 asks for a ca-admin account, so2 confirms it; as ca-admin it asks for a new CA generation.
    const adm = await firstLogon("adm", await created("adm", ["ca-admin"]));
    const { id } = await engine.request(adm, "ca-generation", {});
    await assert.rejects(engine.approve(so1, id), rejectsWith("forbidden", /requested a change to the requester/));
    assert.deepEqual(generations, []);
    assert.ok((await denials()).includes("approval.approve:sponsor-of-requester"));
    // The confirming officer held only half of a one-time password it never saw whole: it may approve.
    assert.equal((await engine.approve(so2, id)).status, "executed");
    assert.deepEqual(generations, [id]);
  });

  it("a sponsor never approves a request about the account it sponsored; nobody approves about their own account", async () => {
    await created("ope-a", ["ca-operator"], so1, so2); // sponsors: so1
    const reset = pendingOf(await admin.forcePasswordChange(so2, "ope-a", "reset"));
    await assert.rejects(engine.approve(so1, reset.approvalId), rejectsWith("forbidden", /requested a change to this account/));
    assert.ok((await denials()).includes("approval.approve:sponsor-of-subject"));
    assert.equal((await engine.approve(so3, reset.approvalId)).status, "executed");
    assert.deepEqual((await stores.operators.get("ope-a"))?.sponsors, ["so1", "so2"]);
    // A reset of so2's password, asked by so1: so2 may not decide it.
    const own = pendingOf(await admin.forcePasswordChange(so1, "so2", "reset"));
    await assert.rejects(engine.approve(so2, own.approvalId), rejectsWith("forbidden", /own account/));
    await assert.rejects(engine.request(so1, "operator-password-reset", { operatorId: "so1" }), rejectsWith("forbidden", /own account/));
    assert.ok((await denials()).includes("approval.approve:own-account"));
  });

  it("the export attack: two accounts from one officer cannot be made without a second one, who holds only halves", async () => {
    // One officer: both creations stay pending, nothing to log in with.
    const a = pendingOf(await admin.add(so1, { operatorId: "ope-a", roles: ["ca-operator"] }));
    const b = pendingOf(await admin.add(so1, { operatorId: "ope-b", roles: ["ca-operator"] }));
    for (const r of [a, b]) await assert.rejects(engine.approve(so1, r.approvalId), rejectsWith("forbidden"));
    await assert.rejects(login("ope-a"), rejectsWith("unauthenticated"));
    // With a second officer the accounts exist, but what so1 collected does not log in.
    for (const r of [a, b]) await engine.approve(so2, r.approvalId);
    for (const [id, r] of [["ope-a", a], ["ope-b", b]] as const) {
      const { requesterPart } = await engine.collectHandover(so1, r.approvalId);
      await assert.rejects(auth.login({ operatorId: id, password: requesterPart, terminal }), rejectsWith("unauthenticated"));
    }
  });

  it("unlocking stays one officer's act; expiring a password too; the CLI is the break-glass path", async () => {
    for (let i = 0; i < 3; i++) await auth.login({ operatorId: "so3", password: "wrong-password-1", terminal }).catch(() => undefined);
    assert.equal((await admin.unlock(so1, "so3")).locked, false);
    assert.ok("operator" in (await admin.forcePasswordChange(so1, "so3", "expire")));
    const r = await admin.add("cli", { operatorId: "root-made", roles: ["ca-admin"], confirm: true });
    assert.ok("oneTimePassword" in r);
    assert.equal((await stores.operators.get("root-made"))?.confirmedBy, "cli");
    const confirmed = (await stores.audit.range(1, 10_000)).filter((e) => e.action === "operator.confirmed");
    assert.deepEqual(confirmed.map((e) => [e.actor, (e.detail as { breakGlass?: boolean }).breakGlass]), [["cli", true]]);
    await assert.rejects(admin.add(so1, { operatorId: "y", roles: ["auditor"], confirm: true }), rejectsWith("forbidden"));
  });
});
