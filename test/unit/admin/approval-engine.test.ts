import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { ApprovalEngine } from "../../../ca/approvals/approval-engine.js";
import type { ApprovalExecutor } from "../../../ca/approvals/approval.js";
import { CaError } from "../../../ca/errors.js";
import type { OperatorPrincipal } from "../../../ca/operators/operator-principal.js";
import { FixedClock, type Random } from "../../../ca/ports.js";
import type { OperatorRole } from "../../../ca/operators/roles.js";
import { MemoryAuditStore, MemoryDatabase } from "../../support/memory-stores.js";
import { MemoryApprovalStore } from "./memory-approval-store.js";
import { rejectsWith } from "./operator-admin-world.js";

const random: Random = { bytes: (n) => new Uint8Array(randomBytes(n)) };
const T0 = new Date("2026-11-24T01:00:00Z");
const HOUR = 3_600_000;

const op = (operatorId: string, ...roles: OperatorRole[]): OperatorPrincipal => ({
  operatorId,
  roles,
  mustChangePassword: false,
  sessionTokenHash: "0".repeat(64),
  terminalFingerprint: "00",
  expiresAt: new Date(T0.getTime() + HOUR),
});

describe("ca/approval-engine (four eyes)", () => {
  let db: MemoryDatabase;
  let audit: MemoryAuditStore;
  let store: MemoryApprovalStore;
  let clock: FixedClock;
  let engine: ApprovalEngine;
  let executed: Array<{ id: string; params: Record<string, unknown>; approver: string }>;
  let failNext: Error | undefined;

  const alice = op("alice", "ca-operator");
  const bob = op("bob", "ca-operator");
  const carol = op("carol", "auditor");
  const dave = op("dave", "ca-admin");

  beforeEach(() => {
    db = new MemoryDatabase();
    audit = new MemoryAuditStore(db);
    store = new MemoryApprovalStore(db);
    clock = new FixedClock(T0);
    executed = [];
    failNext = undefined;
    engine = new ApprovalEngine({ store, audit, transactions: db, clock, random, defaultTtlMs: 2 * HOUR });
    const executor: ApprovalExecutor<{ n: number }> = {
      kind: "test-kind",
      description: "test",
      requestRoles: ["ca-operator"],
      approveRoles: ["ca-operator", "ca-admin"],
      parse(p) {
        const n = (p as { n?: unknown }).n;
        if (typeof n !== "number") throw new CaError("invalid-input", "n must be a number", { field: "n" });
        return { n };
      },
      async execute(a, approver) {
        if (failNext) {
          const e = failNext;
          failNext = undefined;
          throw e;
        }
        executed.push({ id: a.id, params: a.params, approver: approver === "cli" ? "cli" : approver.operatorId });
        return { doubled: a.params.n * 2 };
      },
    };
    engine.register(executor);
  });

  const actions = async () => (await audit.range(1, 1000)).map((e) => `${e.action}:${e.outcome}`);

  it("runs request → pending → approved by another operator → executed, auditing every step", async () => {
    const r = await engine.request(alice, "test-kind", { n: 21 });
    assert.equal(r.status, "pending");
    assert.equal(r.requestedBy, "alice");
    assert.deepEqual(executed, []);
    const done = await engine.approve(bob, r.id);
    assert.equal(done.status, "executed");
    assert.equal(done.decidedBy, "bob");
    assert.deepEqual(done.result, { doubled: 42 });
    assert.deepEqual(executed, [{ id: r.id, params: { n: 21 }, approver: "bob" }]);
    assert.deepEqual(await actions(), ["approval.requested:success", "approval.approved:success", "approval.executed:success"]);
  });

  it("refuses self-approval, audits the refusal and leaves the request pending", async () => {
    const r = await engine.request(alice, "test-kind", { n: 1 });
    await assert.rejects(engine.approve(alice, r.id), rejectsWith("forbidden", /own request/));
    assert.equal((await engine.get(r.id)).status, "pending");
    assert.deepEqual(executed, []);
    const last = (await audit.range(1, 100)).at(-1)!;
    assert.equal(last.action, "approval.approve");
    assert.equal(last.outcome, "denied");
    assert.equal(last.detail.reason, "self-approval");
    assert.equal(last.actor, "operator:alice");
  });

  it("refuses an approver without an approver role of the kind, and a requester without a request role", async () => {
    const r = await engine.request(alice, "test-kind", { n: 1 });
    await assert.rejects(engine.approve(carol, r.id), rejectsWith("forbidden", /ca-operator or ca-admin/));
    await assert.rejects(engine.request(carol, "test-kind", { n: 1 }), rejectsWith("forbidden"));
    await assert.rejects(engine.approve("cli", r.id), rejectsWith("forbidden", /named operator/));
    const denied = (await audit.range(1, 100)).filter((e) => e.outcome === "denied").map((e) => e.detail.reason);
    assert.deepEqual(denied, ["missing-role", "missing-role", "cli-cannot-approve"]);
    const ok = await engine.approve(dave, r.id);
    assert.equal(ok.status, "executed");
  });

  it("approves once: a second approval is a conflict", async () => {
    const r = await engine.request(alice, "test-kind", { n: 1 });
    await engine.approve(bob, r.id);
    await assert.rejects(engine.approve(dave, r.id), rejectsWith("conflict", /executed/));
    assert.equal(executed.length, 1);
  });

  it("lets an unapproved request expire, and refuses a late approval", async () => {
    const r = await engine.request(alice, "test-kind", { n: 1 });
    clock.advance(2 * HOUR + 1);
    await assert.rejects(engine.approve(bob, r.id), rejectsWith("conflict", /expired/));
    assert.equal((await engine.get(r.id)).status, "expired");
    assert.deepEqual(executed, []);
    assert.ok((await actions()).includes("approval.expired:success"));
  });

  it("expireDue sweeps every overdue request once", async () => {
    await engine.request(alice, "test-kind", { n: 1 });
    await engine.request(alice, "test-kind", { n: 2 });
    clock.advance(HOUR);
    const young = await engine.request(alice, "test-kind", { n: 3 });
    clock.advance(HOUR + 1);
    assert.equal(await engine.expireDue(), 2);
    assert.equal(await engine.expireDue(), 0);
    assert.equal((await engine.get(young.id)).status, "pending");
  });

  it("records a failed execution with the CaError message", async () => {
    const r = await engine.request(alice, "test-kind", { n: 1 });
    failNext = new CaError("unavailable", "HSM not ready");
    const done = await engine.approve(bob, r.id);
    assert.equal(done.status, "failed");
    assert.equal(done.failure, "HSM not ready");
    assert.ok((await actions()).includes("approval.failed:failure"));
  });

  it("rejects (approver) and withdraws (requester); nobody else", async () => {
    const a = await engine.request(alice, "test-kind", { n: 1 });
    await assert.rejects(engine.reject(carol, a.id), rejectsWith("forbidden"));
    assert.equal((await engine.reject(bob, a.id, "not needed")).status, "rejected");
    const b = await engine.request(alice, "test-kind", { n: 1 });
    assert.equal((await engine.reject(alice, b.id)).status, "rejected");
    assert.ok((await actions()).includes("approval.withdrawn:success"));
    await assert.rejects(engine.approve(bob, b.id), rejectsWith("conflict"));
  });

  it("hands a one-time result to the requester only, once", async () => {
    const r = await engine.request(alice, "test-kind", { n: 1 });
    await assert.rejects(engine.consume(alice, r.id, "test-kind"), rejectsWith("conflict", /approval/));
    await engine.approve(bob, r.id);
    await assert.rejects(engine.consume(bob, r.id, "test-kind"), rejectsWith("forbidden"));
    const got = await engine.consume(alice, r.id, "test-kind");
    assert.ok(got.consumedAt);
    await assert.rejects(engine.consume(alice, r.id, "test-kind"), rejectsWith("conflict", /once|already/));
  });

  it("validates parameters and kinds at request time", async () => {
    await assert.rejects(engine.request(alice, "test-kind", { n: "x" }), rejectsWith("invalid-input"));
    await assert.rejects(engine.request(alice, "nope", {}), rejectsWith("not-found"));
    await assert.rejects(engine.get("not-an-id"), rejectsWith("not-found"));
    assert.throws(() => engine.register({ kind: "test-kind" } as ApprovalExecutor), rejectsWith("conflict"));
  });
});
