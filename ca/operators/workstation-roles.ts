import type { ServiceRole } from "./client-identity.js";
import type { OperatorRole } from "./roles.js";

/**
 * Which operator roles may be exercised from which kind of workstation (issue 12 item 2; docs/domain.md §6;
 * 告示334号 第4-4(5): each operator may do only the operations of their assigned duties, 第4-3: the
 * CA's management functions are used only from the CA's own managed equipment).
 *
 * - a counter terminal (client certificate OU=terminal) serves residents at a municipal counter: only
 *   the terminal operator's duties (issuance, lookups, holds and revocations of that municipality);
 * - an admin workstation (OU=admin) is CA-side equipment: the CA operator, the CA administrator, the
 *   security officer and the auditor work there, and never at a counter.
 *
 * A person may hold roles of both kinds (e.g. a municipal clerk who is also a CA operator): a session
 * carries only the roles valid for the kind of certificate it was opened on, and every request counts
 * only those (api/operator-session.ts). Feeds and relying parties have no operator sessions.
 */
export type WorkstationKind = Extract<ServiceRole, "terminal" | "admin">;

export const workstationKinds: readonly WorkstationKind[] = Object.freeze(["terminal", "admin"] as const);

const usableOn: Readonly<Record<WorkstationKind, readonly OperatorRole[]>> = Object.freeze({
  terminal: Object.freeze(["terminal-operator"] as const),
  admin: Object.freeze(["ca-operator", "ca-admin", "security-officer", "auditor"] as const),
});

/** True for the client-certificate kinds operators log in on. */
export function isWorkstationKind(kind: string): kind is WorkstationKind {
  return (workstationKinds as readonly string[]).includes(kind);
}

/** The operator roles that may be used on a workstation of `kind`. */
export function rolesUsableOn(kind: WorkstationKind): readonly OperatorRole[] {
  return usableOn[kind];
}

/**
 * The subset of `roles` valid on a client certificate of machine role `kind` (in the given order);
 * empty for a kind that carries no operator sessions (feed, relying party) or an unknown one.
 */
export function usableRoles(roles: readonly OperatorRole[], kind: string): OperatorRole[] {
  if (!isWorkstationKind(kind)) return [];
  const allowed = usableOn[kind];
  return roles.filter((r) => allowed.includes(r));
}

/** True when the operator holding `roles` may work at all on a workstation of `kind`. */
export function mayWorkOn(roles: readonly OperatorRole[], kind: string): boolean {
  return usableRoles(roles, kind).length > 0;
}
