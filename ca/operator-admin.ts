import { CaError } from "./errors.js";
import type { NewOperatorInput, NewOperatorResult, OperatorAuth } from "./operator-auth.js";
import type { OperatorRecord, OperatorSessionStore, OperatorStore } from "./operator-ports.js";
import { actorName, assertActorRole, type Actor } from "./operator-principal.js";
import { ScryptPasswordHasher, type PasswordHasher } from "./password-hash.js";
import { generatePassword } from "./password-policy.js";
import type { Clock, Random } from "./ports.js";
import type { AuditStore, TransactionRunner } from "./stores.js";

/**
 * Operator administration by the security officer (CONTRACT §7 `/v1/admin/operators…`; 告示334号
 * 第4-4(2),(5): individual accounts with assigned duties). Adds to OperatorAuth (which registers,
 * unlocks and sets roles) listing, deactivation and forced password changes, and one rule of separated
 * duties: nobody administers their own account (a security officer cannot widen, reset or switch off
 * their own access).
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
}

export interface OperatorAdminDeps {
  readonly auth: Pick<OperatorAuth, "addOperator" | "setRoles" | "unlock" | "settings">;
  readonly operators: Pick<OperatorStore, "get" | "list" | "setActive" | "setPassword">;
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

  /** Registers an operator (separation of duties checked by the role parser). */
  async add(actor: Actor, input: NewOperatorInput): Promise<NewOperatorResult> {
    if (input.ready === true && actor !== "cli") throw new CaError("forbidden", "only the demo set-up skips the first-logon password change", { field: "ready" });
    return this.deps.auth.addOperator(actor, input);
  }

  async setRoles(actor: Actor, operatorId: string, roles: readonly string[]): Promise<OperatorSummary> {
    assertActorRole(actor, "security-officer");
    this.notSelf(actor, operatorId, "change their own roles");
    await this.deps.auth.setRoles(actor, operatorId, roles);
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
  async forcePasswordChange(actor: Actor, operatorId: string, mode: PasswordChangeMode): Promise<{ operator: OperatorSummary; oneTimePassword?: string }> {
    assertActorRole(actor, "security-officer");
    this.notSelf(actor, operatorId, "reset their own password (use POST /v1/operators/me/password)");
    const op = await this.existing(operatorId);
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
  };
}
