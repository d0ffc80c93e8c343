import type { ApprovalExecutor } from "./approval.js";
import { CaError } from "../errors.js";
import type { OperatorSessionStore, OperatorStore } from "../operators/operator-ports.js";
import { actorName, type Actor } from "../operators/operator-principal.js";
import type { PasswordHasher } from "../operators/password-hash.js";
import { generatePassword, type PasswordPolicy } from "../operators/password-policy.js";
import type { Clock, Random } from "../ports.js";
import { parseOperatorRoles, type OperatorRole } from "../operators/roles.js";
import type { AuditStore, TransactionRunner } from "../stores.js";

/**
 * Account changes that are themselves four-eyes operations (issue 12; 告示334号 第2-3(1): approval for
 * important input, separated duties): creating an operator with a role that takes part in four-eyes
 * operations, granting such a role, and resetting another operator's password. A security officer
 * asks (`POST /v1/admin/operators…` → 202), a second security officer approves; the approval is the
 * confirmation of the account (operators.confirmed_by), and the requester becomes a sponsor of the
 * account (ca/approvals/approval-separation.ts).
 *
 * A one-time password is made only when the approval executes, and split (ApprovalHandover): the
 * approver gets one half in the answer to the approval, the requester collects the other half once
 * (`POST /v1/admin/approvals/{id}/handover`). Neither officer alone knows the new password; the new
 * operator types both halves, requester's first, and must change the password at first logon.
 */
export const OPERATOR_CREATE = "operator-create";
export const OPERATOR_ROLES = "operator-roles";
export const OPERATOR_PASSWORD_RESET = "operator-password-reset";

export interface OperatorApprovalDeps {
  readonly operators: Pick<OperatorStore, "get" | "insert" | "setRoles" | "setPassword" | "setConfirmation" | "addSponsors">;
  readonly sessions: Pick<OperatorSessionStore, "endAllForOperator">;
  readonly audit: Pick<AuditStore, "append">;
  readonly transactions: TransactionRunner;
  readonly clock: Clock;
  readonly random: Random;
  readonly passwords: PasswordHasher;
  readonly passwordPolicy: PasswordPolicy;
}

export interface OperatorCreateParams extends Record<string, unknown> {
  readonly operatorId: string;
  readonly roles: OperatorRole[];
  readonly displayName: string | null;
}
export interface OperatorRolesParams extends Record<string, unknown> {
  readonly operatorId: string;
  readonly roles: OperatorRole[];
}
export interface OperatorResetParams extends Record<string, unknown> {
  readonly operatorId: string;
}

/** As ca/operators/operator-auth.ts: 1–64 of [A-Za-z0-9._-], starting with a letter or digit. */
const OPERATOR_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const OFFICERS: readonly OperatorRole[] = ["security-officer"];

function objectOf(input: unknown, keys: readonly string[]): Record<string, unknown> {
  if (input === null || typeof input !== "object" || Array.isArray(input)) throw new CaError("invalid-input", "params must be an object");
  const v = input as Record<string, unknown>;
  for (const k of Object.keys(v)) if (!keys.includes(k)) throw new CaError("invalid-input", `unknown field ${k}`, { field: k });
  return v;
}

function operatorIdOf(v: Record<string, unknown>): string {
  const id = v.operatorId;
  if (typeof id !== "string" || !OPERATOR_ID.test(id)) throw new CaError("invalid-input", "operator id must be 1–64 of [A-Za-z0-9._-], starting with a letter or digit", { field: "operatorId" });
  return id;
}

function rolesOf(v: Record<string, unknown>): OperatorRole[] {
  if (!Array.isArray(v.roles) || !v.roles.every((r) => typeof r === "string")) throw new CaError("invalid-input", "roles must be a list of role names", { field: "roles" });
  return parseOperatorRoles(v.roles as string[]);
}

export function parseOperatorCreate(input: unknown): OperatorCreateParams {
  const v = objectOf(input, ["operatorId", "roles", "displayName"]);
  const displayName = v.displayName ?? null;
  if (displayName !== null && (typeof displayName !== "string" || displayName.length < 1 || displayName.length > 200)) throw new CaError("invalid-input", "displayName must be 1–200 characters", { field: "displayName" });
  return { operatorId: operatorIdOf(v), roles: rolesOf(v), displayName };
}

export function parseOperatorRoles4e(input: unknown): OperatorRolesParams {
  const v = objectOf(input, ["operatorId", "roles"]);
  return { operatorId: operatorIdOf(v), roles: rolesOf(v) };
}

export function parseOperatorReset(input: unknown): OperatorResetParams {
  return { operatorId: operatorIdOf(objectOf(input, ["operatorId"])) };
}

/** The three executors, to register on the ApprovalEngine. */
export function operatorApprovalExecutors(deps: OperatorApprovalDeps): [ApprovalExecutor<OperatorCreateParams>, ApprovalExecutor<OperatorRolesParams>, ApprovalExecutor<OperatorResetParams>] {
  const { operators, audit, transactions, clock } = deps;

  /** A policy-conforming password of at least 24 characters, in two halves of at least 12. */
  const splitPassword = async (operatorId: string): Promise<{ hash: string; requesterPart: string; approverPart: string }> => {
    const length = Math.min(Math.max(24, deps.passwordPolicy.minLength), deps.passwordPolicy.maxLength);
    const password = generatePassword(deps.random, operatorId, deps.passwordPolicy, length);
    const half = Math.ceil(password.length / 2);
    return { hash: await deps.passwords.hash(password), requesterPart: password.slice(0, half), approverPart: password.slice(half) };
  };
  const approverId = (approver: Actor): string => {
    if (approver === "cli") throw new CaError("forbidden", "approvals need a named operator");
    return approver.operatorId;
  };

  const create: ApprovalExecutor<OperatorCreateParams> = {
    kind: OPERATOR_CREATE,
    description: "create an operator holding a four-eyes role; confirmed by the approving (second) security officer",
    requestRoles: OFFICERS,
    approveRoles: OFFICERS,
    parse: parseOperatorCreate,
    subjectOperator: (p) => p.operatorId,
    async execute(approval, approver, handover) {
      const by = approverId(approver);
      const { operatorId, roles, displayName } = approval.params;
      const secret = await splitPassword(operatorId);
      const now = clock.now();
      await transactions.transaction(async (tx) => {
        await operators.insert({ operatorId, displayName, roles, passwordHash: secret.hash, mustChangePassword: true, createdAt: now }, tx);
        await operators.setConfirmation(operatorId, { by, at: now }, tx);
        await operators.addSponsors(operatorId, [approval.requestedBy], now, tx);
        await audit.append(
          { at: now, action: "operator.added", actor: actorName(approver), subject: `operator:${operatorId}`, outcome: "success", detail: { roles, approval: approval.id, requestedBy: approval.requestedBy, confirmedBy: by, passwordSplit: true, mustChangePassword: true } },
          tx,
        );
      });
      handover({ requesterPart: secret.requesterPart, approverPart: secret.approverPart });
      return { operatorId, roles, confirmedBy: by, mustChangePassword: true };
    },
  };

  const grant: ApprovalExecutor<OperatorRolesParams> = {
    kind: OPERATOR_ROLES,
    description: "give an operator roles that include a four-eyes role (or confirm an unconfirmed account); confirmed by the approving security officer",
    requestRoles: OFFICERS,
    approveRoles: OFFICERS,
    parse: parseOperatorRoles4e,
    subjectOperator: (p) => p.operatorId,
    async execute(approval, approver) {
      const by = approverId(approver);
      const { operatorId, roles } = approval.params;
      const now = clock.now();
      await transactions.transaction(async (tx) => {
        const before = await operators.get(operatorId, tx);
        if (before === undefined) throw new CaError("not-found", "operator not found");
        await operators.setRoles(operatorId, roles, now, tx);
        await operators.setConfirmation(operatorId, { by, at: now }, tx);
        await operators.addSponsors(operatorId, [approval.requestedBy], now, tx);
        await audit.append(
          { at: now, action: "operator.roles.changed", actor: actorName(approver), subject: `operator:${operatorId}`, outcome: "success", detail: { roles, before: before.roles, approval: approval.id, requestedBy: approval.requestedBy, confirmedBy: by } },
          tx,
        );
      });
      return { operatorId, roles, confirmedBy: by };
    },
  };

  const reset: ApprovalExecutor<OperatorResetParams> = {
    kind: OPERATOR_PASSWORD_RESET,
    description: "replace another operator's password with a one-time password split between the two security officers; ends the operator's sessions",
    requestRoles: OFFICERS,
    approveRoles: OFFICERS,
    parse: parseOperatorReset,
    subjectOperator: (p) => p.operatorId,
    async execute(approval, approver, handover) {
      approverId(approver);
      const { operatorId } = approval.params;
      if ((await operators.get(operatorId)) === undefined) throw new CaError("not-found", "operator not found");
      const secret = await splitPassword(operatorId);
      const now = clock.now();
      let sessionsEnded = 0;
      await transactions.transaction(async (tx) => {
        await operators.setPassword(operatorId, { passwordHash: secret.hash, mustChangePassword: true, at: now }, tx);
        sessionsEnded = await deps.sessions.endAllForOperator(operatorId, now, undefined, tx);
        await operators.addSponsors(operatorId, [approval.requestedBy], now, tx);
        await audit.append(
          { at: now, action: "operator.password.reset", actor: actorName(approver), subject: `operator:${operatorId}`, outcome: "success", detail: { approval: approval.id, requestedBy: approval.requestedBy, sessionsEnded, passwordSplit: true } },
          tx,
        );
      });
      handover({ requesterPart: secret.requesterPart, approverPart: secret.approverPart });
      return { operatorId, sessionsEnded, mustChangePassword: true };
    },
  };

  return [create, grant, reset];
}
