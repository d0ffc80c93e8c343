import { CaError } from "../errors.js";
import { serviceRoles, type ServiceRole } from "./client-identity.js";

/**
 * Roles (docs/api.md §7). Two kinds:
 * - operator roles, held by people and checked on their session (告示334号 第4-4(5), 飯田市 規程 第10条:
 *   each operator may do only the operations of their assigned duties);
 * - machine roles, carried in the OU of the service-CA client certificate (ca/operators/client-identity.ts).
 */
export const operatorRoles = ["terminal-operator", "ca-operator", "security-officer", "auditor", "ca-admin"] as const;
export type OperatorRole = (typeof operatorRoles)[number];

/** Machine roles: the client certificate's OU. `terminal` and `admin` also need an operator session. */
export const machineRoles = serviceRoles;
export type MachineRole = ServiceRole;

/**
 * Pairs of roles one operator may never hold together (告示334号 第2-3(1), 第4-8(2): separated duties).
 * The security officer manages operators and unlocks accounts; the CA administrator creates CA
 * generations. One person holding both could grant themselves anything and approve it.
 */
export const incompatibleRoles: ReadonlyArray<readonly [OperatorRole, OperatorRole]> = Object.freeze([
  Object.freeze(["security-officer", "ca-admin"] as const),
]);

export function isOperatorRole(value: string): value is OperatorRole {
  return (operatorRoles as readonly string[]).includes(value);
}

export function isMachineRole(value: string): value is MachineRole {
  return (machineRoles as readonly string[]).includes(value);
}

/**
 * Throws CaError("unprocessable", field "roles") when `roles` combines duties that must stay separated.
 */
export function assertSeparationOfDuties(roles: readonly OperatorRole[]): void {
  for (const [a, b] of incompatibleRoles) {
    if (roles.includes(a) && roles.includes(b)) {
      throw new CaError("unprocessable", `separation of duties: one operator cannot hold both ${a} and ${b}`, { field: "roles" });
    }
  }
}

/**
 * Parses an operator's role list: at least one role, each an operator role, no duplicates kept
 * (returned in the canonical order of `operatorRoles`), and no incompatible pair.
 * CaError("invalid-input", field "roles") for an empty list or an unknown role; "unprocessable" for a
 * separation-of-duties breach.
 */
export function parseOperatorRoles(input: readonly string[]): OperatorRole[] {
  if (input.length === 0) throw new CaError("invalid-input", "an operator needs at least one role", { field: "roles" });
  for (const r of input) {
    if (!isOperatorRole(r)) throw new CaError("invalid-input", `unknown operator role (allowed: ${operatorRoles.join(", ")})`, { field: "roles" });
  }
  const roles = operatorRoles.filter((r) => input.includes(r));
  assertSeparationOfDuties(roles);
  return roles;
}
