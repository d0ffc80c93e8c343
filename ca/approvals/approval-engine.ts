/**
 * @packageDocumentation
 * ca/approvals: the four-eyes rule — an operation is recorded as a request and runs only when a second
 * person approves it.
 *
 * - approval-engine.ts (this file): request → approve / reject / expire, one conditional state change at
 *   a time; nobody approves their own request; executors run on approval.
 * - approval.ts: the approval record, its kinds, and the ports (ApprovalStore).
 * - approval-separation.ts: separation of duties between accounts (sponsors, confirmation).
 * - approval-export.ts: bulk export of issuance records, released once after approval.
 * - operator-approvals.ts: account changes that are themselves four-eyes operations (create, grant, reset).
 * Other executors: retention purges (ca/records/retention.ts); mass revocation and CA generations (api/).
 */
import type { ApprovalExecutor, ApprovalHandover, ApprovalRecord, ApprovalStatus, ApprovalStore } from "./approval.js";
import { fourEyesRoles, separationRefusal, type ApprovalAccounts } from "./approval-separation.js";
import { CaError } from "../errors.js";
import { actorName, type Actor } from "../operators/operator-principal.js";
import type { Clock, Random } from "../ports.js";
import type { OperatorRole } from "../operators/roles.js";
import type { AuditStore, TransactionRunner } from "../stores.js";

/** Default time a request waits for its second operator: 24 hours. */
export const DEFAULT_APPROVAL_TTL_MS = 24 * 60 * 60 * 1000;

export interface ApprovalEngineDeps {
  readonly store: ApprovalStore;
  readonly audit: Pick<AuditStore, "append">;
  readonly transactions: TransactionRunner;
  readonly clock: Clock;
  readonly random: Random;
  readonly defaultTtlMs?: number;
  /** Told about an executor error that is not a CaError (the request is marked failed either way). */
  readonly onUnexpectedError?: (error: unknown, kind: string) => void;
  /**
   * The operator accounts, for the separation rules of ca/approvals/approval-separation.ts (confirmed approvers,
   * sponsors). Every deployment passes it (api/wiring/admin-controls.ts); without it only "not one's
   * own request" is checked (unit tests of single executors).
   */
  readonly accounts?: ApprovalAccounts;
}

/** The record after an approval, with the approver's part of a one-time secret when the execution made one (never stored). */
export type ApprovedRecord = ApprovalRecord & { readonly approverPart?: string };

const ID = /^[A-Za-z0-9_-]{22}$/;

/**
 * The four-eyes engine (告示334号 第4-8(2), 第2-3(1)): request → pending → approved by another
 * operator with an approver role → executed. Generic over kinds: each kind's ApprovalExecutor says who
 * may request, who may approve and what to do. Every step is appended to the audit log, refusals too
 * (self-approval, a missing role, an expired request).
 *
 * The local CLI ("cli") may not request or approve: four eyes means two named people.
 */
export class ApprovalEngine {
  private readonly executors = new Map<string, ApprovalExecutor>();
  private readonly ttlMs: number;

  constructor(private readonly deps: ApprovalEngineDeps) {
    this.ttlMs = deps.defaultTtlMs ?? DEFAULT_APPROVAL_TTL_MS;
  }

  /** Adds the executor of a kind. CaError("conflict") when the kind is registered already. */
  register<P extends Record<string, unknown>>(executor: ApprovalExecutor<P>): this {
    if (this.executors.has(executor.kind)) throw new CaError("conflict", `approval kind ${executor.kind} is registered already`);
    this.executors.set(executor.kind, executor as unknown as ApprovalExecutor);
    return this;
  }

  /**
   * Roles that request or approve some registered kind: an account holding one is created, or given
   * one, only through a four-eyes request (ca/approvals/operator-approvals.ts).
   */
  fourEyesRoles(): OperatorRole[] {
    return fourEyesRoles(this.executors.values());
  }

  /** Kinds with an executor. */
  kinds(): string[] {
    return [...this.executors.keys()].sort();
  }

  /**
   * Records a pending request. CaError "forbidden" (audited) when the actor lacks a request role,
   * "not-found" for an unknown kind, "invalid-input" for bad parameters.
   */
  async request(actor: Actor, kind: string, params: unknown): Promise<ApprovalRecord> {
    const executor = this.executorOf(kind);
    const now = this.deps.clock.now();
    if (actor === "cli" || !executor.requestRoles.some((r) => actor.roles.includes(r))) {
      await this.deny(actor, "approval.request", null, { kind, reason: "missing-role", needs: executor.requestRoles });
      throw new CaError("forbidden", `requesting ${kind} needs the operator role ${executor.requestRoles.join(" or ")}`);
    }
    const parsed = executor.parse(params);
    if (executor.subjectOperator?.(parsed) === actor.operatorId) {
      await this.deny(actor, "approval.request", null, { kind, reason: "own-account" });
      throw new CaError("forbidden", "separation of duties: nobody requests a change to their own account");
    }
    const record: ApprovalRecord = {
      id: Buffer.from(this.deps.random.bytes(16)).toString("base64url"),
      kind,
      status: "pending",
      requestedBy: actor.operatorId,
      requestedAt: now,
      expiresAt: new Date(now.getTime() + (executor.ttlMs ?? this.ttlMs)),
      params: parsed,
      decidedBy: null,
      decidedAt: null,
      executedAt: null,
      result: null,
      failure: null,
      consumedAt: null,
    };
    await this.deps.transactions.transaction(async (tx) => {
      await this.deps.store.insert(record, tx);
      await this.deps.audit.append(
        { at: now, action: "approval.requested", actor: actorName(actor), subject: `approval:${record.id}`, outcome: "success", detail: { kind, expiresAt: record.expiresAt.toISOString(), params: this.auditParams(executor, parsed) } },
        tx,
      );
    });
    return record;
  }

  /**
   * Approves and executes. Refused (audited, outcome "denied") when the approver is the requester
   * ("nobody approves their own request"), lacks an approver role of the kind, or is the CLI; CaError
   * "conflict" when the request is no longer pending (decided, or expired: it is marked expired now).
   * Also refused (audited) by the account rules of ca/approvals/approval-separation.ts: an unconfirmed approver,
   * a sponsor of the requester's account or of the account the request is about, that account itself.
   * Returns the record after execution (status executed or failed), with the approver's part of a
   * one-time secret when the executor made one.
   */
  async approve(actor: Actor, id: string): Promise<ApprovedRecord> {
    const record = await this.load(id);
    const executor = this.executorOf(record.kind);
    const now = this.deps.clock.now();
    if (actor === "cli") {
      await this.deny(actor, "approval.approve", id, { kind: record.kind, reason: "cli-cannot-approve" });
      throw new CaError("forbidden", "approvals need a named operator: the command line cannot approve");
    }
    if (actor.operatorId === record.requestedBy) {
      await this.deny(actor, "approval.approve", id, { kind: record.kind, reason: "self-approval" });
      throw new CaError("forbidden", "separation of duties: nobody approves their own request");
    }
    if (!executor.approveRoles.some((r) => actor.roles.includes(r))) {
      await this.deny(actor, "approval.approve", id, { kind: record.kind, reason: "missing-role", needs: executor.approveRoles });
      throw new CaError("forbidden", `approving ${record.kind} needs the operator role ${executor.approveRoles.join(" or ")}`);
    }
    const refusal = this.deps.accounts ? await separationRefusal(this.deps.accounts, executor, record, actor) : undefined;
    if (refusal !== undefined) {
      await this.deny(actor, "approval.approve", id, { kind: record.kind, reason: refusal.reason, requestedBy: record.requestedBy });
      throw new CaError("forbidden", refusal.message);
    }
    if (record.status === "pending" && record.expiresAt.getTime() < now.getTime()) {
      await this.expire(record, now);
      throw new CaError("conflict", "the request has expired: ask again");
    }
    const approved = await this.deps.transactions.transaction(async (tx) => {
      if (!(await this.deps.store.transition(id, "pending", { status: "approved", decidedBy: actor.operatorId, decidedAt: now }, tx))) return false;
      await this.deps.audit.append(
        { at: now, action: "approval.approved", actor: actorName(actor), subject: `approval:${id}`, outcome: "success", detail: { kind: record.kind, requestedBy: record.requestedBy } },
        tx,
      );
      return true;
    });
    if (!approved) {
      await this.deny(actor, "approval.approve", id, { kind: record.kind, reason: "not-pending", status: record.status });
      throw new CaError("conflict", `the request is ${record.status}, not pending`);
    }
    return this.execute(executor, { ...record, status: "approved", decidedBy: actor.operatorId, decidedAt: now }, actor);
  }

  /**
   * Rejects a pending request: an operator with an approver role, or the requester withdrawing it.
   * CaError "forbidden" (audited) otherwise; "conflict" when not pending.
   */
  async reject(actor: Actor, id: string, reason?: string): Promise<ApprovalRecord> {
    const record = await this.load(id);
    const executor = this.executorOf(record.kind);
    const now = this.deps.clock.now();
    const own = actor !== "cli" && actor.operatorId === record.requestedBy;
    if (actor === "cli" || (!own && !executor.approveRoles.some((r) => actor.roles.includes(r)))) {
      await this.deny(actor, "approval.reject", id, { kind: record.kind, reason: "missing-role" });
      throw new CaError("forbidden", `rejecting ${record.kind} needs the operator role ${executor.approveRoles.join(" or ")} (or being its requester)`);
    }
    const done = await this.deps.transactions.transaction(async (tx) => {
      if (!(await this.deps.store.transition(id, "pending", { status: "rejected", decidedBy: actor.operatorId, decidedAt: now }, tx))) return false;
      await this.deps.audit.append(
        { at: now, action: own ? "approval.withdrawn" : "approval.rejected", actor: actorName(actor), subject: `approval:${id}`, outcome: "success", detail: { kind: record.kind, ...(reason ? { reason } : {}) } },
        tx,
      );
      return true;
    });
    if (!done) throw new CaError("conflict", `the request is ${record.status}, not pending`);
    return this.load(id);
  }

  /** The record (pending ones past their expiry are marked expired first). CaError("not-found"). */
  async get(id: string): Promise<ApprovalRecord> {
    const record = await this.load(id);
    const now = this.deps.clock.now();
    if (record.status === "pending" && record.expiresAt.getTime() < now.getTime()) {
      await this.expire(record, now);
      return this.load(id);
    }
    return record;
  }

  /** Newest first, at most `limit` (≤ 200). */
  async list(filter: { status?: ApprovalStatus; kind?: string; limit?: number } = {}): Promise<ApprovalRecord[]> {
    await this.expireDue();
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), 200);
    return this.deps.store.list({ ...(filter.status ? { status: filter.status } : {}), ...(filter.kind ? { kind: filter.kind } : {}), limit });
  }

  /** Marks every overdue pending request expired (audited); returns how many. Run on a timer too. */
  async expireDue(): Promise<number> {
    const now = this.deps.clock.now();
    let n = 0;
    for (;;) {
      const due = await this.deps.store.listExpired(now, 100);
      if (due.length === 0) return n;
      for (const r of due) if (await this.expire(r, now)) n++;
      if (due.length < 100) return n;
    }
  }

  /**
   * Collects a one-time result (an export file): only the requester, only once, only after execution.
   * CaError "forbidden" (audited) for anyone else, "conflict" when not executed or already collected.
   */
  async consume(actor: Actor, id: string, kind: string): Promise<ApprovalRecord> {
    const record = await this.load(id);
    if (record.kind !== kind) throw new CaError("not-found", `no ${kind} request with this id`);
    const now = this.deps.clock.now();
    if (actor === "cli" || actor.operatorId !== record.requestedBy) {
      await this.deny(actor, "approval.collect", id, { kind, reason: "not-requester" });
      throw new CaError("forbidden", "only the operator who requested it may collect the result");
    }
    if (record.status !== "executed") throw new CaError("conflict", `the request is ${record.status}: it needs the approval of another operator first`);
    const ok = await this.deps.transactions.transaction(async (tx) => {
      if (!(await this.deps.store.markConsumed(id, now, tx))) return false;
      await this.deps.audit.append({ at: now, action: "approval.collected", actor: actorName(actor), subject: `approval:${id}`, outcome: "success", detail: { kind } }, tx);
      return true;
    });
    if (!ok) throw new CaError("conflict", "the result was collected already (one approval, one output)");
    return { ...record, consumedAt: now };
  }

  /**
   * The requester's part of the one-time secret an executed request produced (ApprovalHandover): only
   * the requester, only once (it is erased as it is read). CaError "forbidden" (audited) for anyone
   * else, "conflict" when not executed, none was made, or it was collected already.
   */
  async collectHandover(actor: Actor, id: string): Promise<{ kind: string; requesterPart: string }> {
    const record = await this.load(id);
    const now = this.deps.clock.now();
    if (actor === "cli" || actor.operatorId !== record.requestedBy) {
      await this.deny(actor, "approval.handover", id, { kind: record.kind, reason: "not-requester" });
      throw new CaError("forbidden", "only the operator who requested it may collect this part");
    }
    if (record.status !== "executed") throw new CaError("conflict", `the request is ${record.status}: it needs the approval of another operator first`);
    const part = await this.deps.transactions.transaction(async (tx) => {
      const p = await this.deps.store.takeHandover(id, tx);
      if (p !== undefined) await this.deps.audit.append({ at: now, action: "approval.handover.collected", actor: actorName(actor), subject: `approval:${id}`, outcome: "success", detail: { kind: record.kind } }, tx);
      return p;
    });
    if (part === undefined) throw new CaError("conflict", "nothing to collect: collected already, or this request produced no secret");
    return { kind: record.kind, requesterPart: part };
  }

  private async execute(executor: ApprovalExecutor, record: ApprovalRecord, approver: Actor): Promise<ApprovedRecord> {
    let result: Record<string, unknown> | undefined;
    let failure: string | undefined;
    let handover: ApprovalHandover | undefined;
    try {
      result = await executor.execute(record, approver, (parts) => {
        handover = parts;
      });
    } catch (e) {
      // A CaError message carries no personal data (invariant 6); anything else is summarised.
      failure = e instanceof CaError ? e.message : "execution failed";
      if (!(e instanceof CaError)) this.deps.onUnexpectedError?.(e, record.kind);
    }
    const at = this.deps.clock.now();
    await this.deps.transactions.transaction(async (tx) => {
      const change =
        result !== undefined
          ? { status: "executed" as const, executedAt: at, result, ...(handover ? { handover: handover.requesterPart } : {}) }
          : { status: "failed" as const, executedAt: at, failure: failure ?? "execution failed" };
      if (!(await this.deps.store.transition(record.id, "approved", change, tx))) throw new CaError("conflict", "the request changed while it was executed");
      await this.deps.audit.append(
        {
          at,
          action: result !== undefined ? "approval.executed" : "approval.failed",
          actor: "system",
          subject: `approval:${record.id}`,
          outcome: result !== undefined ? "success" : "failure",
          detail: { kind: record.kind, approvedBy: record.decidedBy, ...(failure ? { failure } : {}), ...(result !== undefined && handover ? { secretSplit: true } : {}) },
        },
        tx,
      );
    });
    const done = await this.load(record.id);
    return result !== undefined && handover ? { ...done, approverPart: handover.approverPart } : done;
  }

  private async expire(record: ApprovalRecord, now: Date): Promise<boolean> {
    return this.deps.transactions.transaction(async (tx) => {
      if (!(await this.deps.store.transition(record.id, "pending", { status: "expired", decidedAt: now }, tx))) return false;
      await this.deps.audit.append(
        { at: now, action: "approval.expired", actor: "system", subject: `approval:${record.id}`, outcome: "success", detail: { kind: record.kind, requestedBy: record.requestedBy, expiresAt: record.expiresAt.toISOString() } },
        tx,
      );
      return true;
    });
  }

  private async deny(actor: Actor, action: string, id: string | null, detail: Record<string, unknown>): Promise<void> {
    await this.deps.audit.append({ at: this.deps.clock.now(), action, actor: actorName(actor), subject: id === null ? null : `approval:${id}`, outcome: "denied", detail });
  }

  private async load(id: string): Promise<ApprovalRecord> {
    const record = ID.test(id) ? await this.deps.store.get(id) : undefined;
    if (record === undefined) throw new CaError("not-found", "no approval request with this id");
    return record;
  }

  private executorOf(kind: string): ApprovalExecutor {
    const e = this.executors.get(kind);
    if (e === undefined) throw new CaError("not-found", `no approval kind ${kind} (known: ${this.kinds().join(", ") || "none"})`);
    return e;
  }

  private auditParams(executor: ApprovalExecutor, params: Record<string, unknown>): Record<string, unknown> {
    return executor.auditDetail ? executor.auditDetail(params) : params;
  }
}
