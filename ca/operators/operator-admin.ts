import type { ApprovalEngine } from "../approvals/approval-engine.js";
import type { ApprovalRecord } from "../approvals/approval.js";
import { CaError } from "../errors.js";
import { OPERATOR_CREATE, OPERATOR_PASSWORD_RESET, OPERATOR_ROLES } from "../approvals/operator-approvals.js";
import type { NewOperatorInput, NewOperatorResult, OperatorAuth } from "./operator-auth.js";
import type { OperatorRecord, OperatorSessionStore, OperatorStore } from "./operator-ports.js";
import { actorName, assertActorRole, type Actor } from "./operator-principal.js";
import { ScryptPasswordHasher, type PasswordHasher } from "./password-hash.js";
import { generatePassword } from "./password-policy.js";
import type { Clock, Random } from "../ports.js";
import { parseOperatorRoles } from "./roles.js";
import type { AuditStore, TransactionRunner } from "../stores.js";

/**
 * Operator administration by the security officer (docs/api.md §7 `/v1/admin/operators…`; 告示334号
 * 第4-4(2),(5): individual accounts with assigned duties). Adds to OperatorAuth (which registers,
 * unlocks and sets roles) listing, deactivation and forced password changes, and rules of separated
 * duties: nobody administers their own account (a security officer cannot widen, reset or switch off
 * their own access), and no single officer hands out a four-eyes role or another operator's password
 * (issue 12): creating an account with a role that requests or approves some four-eyes kind, granting
 * such a role (or confirming an unconfirmed account) and resetting a password become four-eyes
 * requests decided by a second security officer (ca/approvals/operator-approvals.ts). Unlocking stays one
 * officer's act: it grants nothing. The CLI (root on the CA host) is the audited break-glass path.
 */
export interface OperatorSummary {
  readonly operatorId: string;
  readonly displayName: string | null;
  readonly roles: readonly string[];
  readonly active: boolean;
  readonly locked: boolean;
  readonly failedAttempts: number;
  readonly mustChangePassword: boolean;
  readonly passwordChangedAt: string;
  readonly createdAt: string;
  /** Who confirmed the current roles (a second security officer, "cli" on the CA host), or null: it approves nothing. */
  readonly confirmedBy: string | null;
  readonly confirmedAt: string | null;
  /** Who requested changes to the account (they never approve for or about it). */
  readonly sponsors: readonly string[];
}

/** A change that waits for a second security officer (answered 202). */
export interface PendingOperatorChange {
  readonly approvalId: string;
  readonly kind: string;
  readonly status: "pending";
  readonly expiresAt: string;
}

export interface OperatorAdminDeps {
  readonly auth: Pick<OperatorAuth, "addOperator" | "setRoles" | "unlock" | "settings">;
  readonly operators: Pick<OperatorStore, "get" | "list" | "setActive" | "setPassword" | "setConfirmation" | "addSponsors">;
  /** The four-eyes engine with the executors of ca/approvals/operator-approvals.ts registered. */
  readonly approvals: Pick<ApprovalEngine, "request" | "fourEyesRoles">;
  readonly sessions: Pick<OperatorSessionStore, "endAllForOperator">;
  readonly audit: Pick<AuditStore, "append">;
  readonly transactions: TransactionRunner;
  readonly clock: Clock;
  readonly random: Random;
  /** Default: scrypt with the default parameters (as OperatorAuth). */
  readonly passwords?: PasswordHasher;
}

export type PasswordChangeMode = "expire" | "reset";

export class OperatorAdmin {
  private readonly passwords: PasswordHasher;

  constructor(private readonly deps: OperatorAdminDeps) {
    this.passwords = deps.passwords ?? new ScryptPasswordHasher(deps.random);
  }

  async list(actor: Actor): Promise<OperatorSummary[]> {
    assertActorRole(actor, "security-officer");
    return (await this.deps.operators.list()).map(summaryOf);
  }

  async get(actor: Actor, operatorId: string): Promise<OperatorSummary> {
    assertActorRole(actor, "security-officer");
    return summaryOf(await this.existing(operatorId));
  }

  /**
   * Registers an operator (separation of duties checked by the role parser). An operator with a
   * four-eyes role is only requested here (PendingOperatorChange): a second security officer creates
   * it by approving. Other accounts are created at once, the officer recorded as their sponsor.
   * The CLI creates directly (break-glass; `confirm` marks the account confirmed by "cli", audited).
   */
  async add(actor: Actor, input: NewOperatorInput & { readonly confirm?: boolean }): Promise<NewOperatorResult | PendingOperatorChange> {
    if (input.ready === true && actor !== "cli") throw new CaError("forbidden", "only the demo set-up skips the first-logon password change", { field: "ready" });
    if (input.confirm === true && actor !== "cli") throw new CaError("forbidden", "only the break-glass path on the CA host confirms an account alone", { field: "confirm" });
    if (actor !== "cli") {
      assertActorRole(actor, "security-officer");
      if (this.needsFourEyes(parseOperatorRoles(input.roles))) {
        if (input.password !== undefined) throw new CaError("invalid-input", "a four-eyes account gets a split one-time password, never a chosen one", { field: "password" });
        if ((await this.deps.operators.get(input.operatorId)) !== undefined) throw new CaError("conflict", "operator already exists");
        return pending(await this.deps.approvals.request(actor, OPERATOR_CREATE, { operatorId: input.operatorId, roles: input.roles, displayName: input.displayName ?? null }));
      }
    }
    const { confirm, ...rest } = input;
    const result = await this.deps.auth.addOperator(actor, rest);
    const now = this.deps.clock.now();
    if (actor !== "cli") await this.deps.operators.addSponsors(result.operatorId, [actor.operatorId], now);
    if (confirm === true) await this.confirmBreakGlass(result.operatorId, now);
    return result;
  }

  /**
   * Replaces an operator's roles. When the new roles include a four-eyes role the account does not
   * hold yet — or the account is unconfirmed — this is only a request (PendingOperatorChange) that a
   * second security officer approves; removing roles or adding others happens at once.
   */
  async setRoles(actor: Actor, operatorId: string, roles: readonly string[]): Promise<OperatorSummary | PendingOperatorChange> {
    assertActorRole(actor, "security-officer");
    this.notSelf(actor, operatorId, "change their own roles");
    const parsed = parseOperatorRoles(roles);
    const before = await this.existing(operatorId);
    const added = parsed.filter((r) => !before.roles.includes(r) || before.confirmedAt === null);
    if (actor !== "cli" && this.needsFourEyes(added)) {
      return pending(await this.deps.approvals.request(actor, OPERATOR_ROLES, { operatorId, roles: parsed }));
    }
    await this.deps.auth.setRoles(actor, operatorId, parsed);
    if (actor !== "cli") await this.deps.operators.addSponsors(operatorId, [actor.operatorId], this.deps.clock.now());
    return summaryOf(await this.existing(operatorId));
  }

  async unlock(actor: Actor, operatorId: string): Promise<OperatorSummary> {
    await this.deps.auth.unlock(actor, operatorId);
    return summaryOf(await this.existing(operatorId));
  }

  /** Switches an account off (or on again); switching off ends its sessions at once. */
  async setActive(actor: Actor, operatorId: string, active: boolean): Promise<OperatorSummary> {
    assertActorRole(actor, "security-officer");
    this.notSelf(actor, operatorId, active ? "reactivate themselves" : "deactivate themselves");
    const now = this.deps.clock.now();
    await this.deps.transactions.transaction(async (tx) => {
      const before = await this.deps.operators.get(operatorId, tx);
      if (before === undefined) throw new CaError("not-found", "operator not found");
      await this.deps.operators.setActive(operatorId, active, now, tx);
      const ended = active ? 0 : await this.deps.sessions.endAllForOperator(operatorId, now, undefined, tx);
      await this.deps.audit.append(
        { at: now, action: active ? "operator.reactivated" : "operator.deactivated", actor: actorName(actor), subject: `operator:${operatorId}`, outcome: "success", detail: { wasActive: before.active, sessionsEnded: ended } },
        tx,
      );
    });
    return summaryOf(await this.existing(operatorId));
  }

  /**
   * Forces a password change (久御山町 規程 第18条: passwords changed when needed): "expire" keeps the
   * password but demands a new one at the next logon; "reset" replaces it with a generated one-time
   * password (returned once) for an operator who forgot theirs. Either way the operator's sessions end.
   */
  async forcePasswordChange(actor: Actor, operatorId: string, mode: PasswordChangeMode): Promise<{ operator: OperatorSummary; oneTimePassword?: string } | PendingOperatorChange> {
    assertActorRole(actor, "security-officer");
    this.notSelf(actor, operatorId, "reset their own password (use POST /v1/operators/me/password)");
    const op = await this.existing(operatorId);
    // Issue 12: a reset hands out a password, so a second security officer approves it (the password
    // is then made and split between the two, ca/approvals/operator-approvals.ts). "expire" hands out nothing.
    if (mode === "reset" && actor !== "cli") return pending(await this.deps.approvals.request(actor, OPERATOR_PASSWORD_RESET, { operatorId }));
    const oneTimePassword = mode === "reset" ? generatePassword(this.deps.random, operatorId, this.deps.auth.settings.passwordPolicy) : undefined;
    const passwordHash = oneTimePassword === undefined ? op.passwordHash : await this.passwords.hash(oneTimePassword);
    const now = this.deps.clock.now();
    await this.deps.transactions.transaction(async (tx) => {
      await this.deps.operators.setPassword(operatorId, { passwordHash, mustChangePassword: true, at: now }, tx);
      const ended = await this.deps.sessions.endAllForOperator(operatorId, now, undefined, tx);
      await this.deps.audit.append(
        { at: now, action: mode === "reset" ? "operator.password.reset" : "operator.password.expired", actor: actorName(actor), subject: `operator:${operatorId}`, outcome: "success", detail: { sessionsEnded: ended } },
        tx,
      );
    });
    const operator = summaryOf(await this.existing(operatorId));
    return oneTimePassword === undefined ? { operator } : { operator, oneTimePassword };
  }

  /** True when one of `roles` requests or approves some registered four-eyes kind. */
  private needsFourEyes(roles: readonly string[]): boolean {
    const gated = this.deps.approvals.fourEyesRoles();
    return roles.some((r) => (gated as readonly string[]).includes(r));
  }

  private async confirmBreakGlass(operatorId: string, now: Date): Promise<void> {
    await this.deps.transactions.transaction(async (tx) => {
      await this.deps.operators.setConfirmation(operatorId, { by: "cli", at: now }, tx);
      await this.deps.audit.append({ at: now, action: "operator.confirmed", actor: "cli", subject: `operator:${operatorId}`, outcome: "success", detail: { breakGlass: true } }, tx);
    });
  }

  private notSelf(actor: Actor, operatorId: string, what: string): void {
    if (actor !== "cli" && actor.operatorId === operatorId) throw new CaError("forbidden", `separation of duties: operators cannot ${what}`);
  }

  private async existing(operatorId: string): Promise<OperatorRecord> {
    const op = await this.deps.operators.get(operatorId);
    if (op === undefined) throw new CaError("not-found", "operator not found");
    return op;
  }
}

function summaryOf(op: OperatorRecord): OperatorSummary {
  return {
    operatorId: op.operatorId,
    displayName: op.displayName,
    roles: [...op.roles],
    active: op.active,
    locked: op.lockedAt !== null,
    failedAttempts: op.failedAttempts,
    mustChangePassword: op.mustChangePassword,
    passwordChangedAt: op.passwordChangedAt.toISOString(),
    createdAt: op.createdAt.toISOString(),
    confirmedBy: op.confirmedBy,
    confirmedAt: op.confirmedAt?.toISOString() ?? null,
    sponsors: [...op.sponsors],
  };
}

function pending(r: ApprovalRecord): PendingOperatorChange {
  return { approvalId: r.id, kind: r.kind, status: "pending", expiresAt: r.expiresAt.toISOString() };
}
