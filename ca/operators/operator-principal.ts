import { CaError } from "../errors.js";
import type { OperatorRole } from "./roles.js";

/** An operator authenticated by a session (ca/operators/operator-auth.ts `authenticate`). */
export interface OperatorPrincipal {
  readonly operatorId: string;
  /** Read from the operator record on every request, so role changes apply at once. */
  readonly roles: readonly OperatorRole[];
  /** First logon, reset by the security officer, or password older than the policy's maxAgeDays. */
  readonly mustChangePassword: boolean;
  /** Hex SHA-256 of the session's bearer token (the session's id; never the token). */
  readonly sessionTokenHash: string;
  /** Canonical fingerprint of the client certificate the session is bound to. */
  readonly terminalFingerprint: string;
  /** When the session expires unless used again (sliding idle timeout). */
  readonly expiresAt: Date;
}

/** Who performs an administrative action: an operator with a session, or the local CLI (root on the CA host). */
export type Actor = OperatorPrincipal | "cli";

/** The audit `actor` of an Actor: "operator:<id>" or "cli". */
export function actorName(actor: Actor): string {
  return actor === "cli" ? "cli" : `operator:${actor.operatorId}`;
}

/**
 * Each operator may do only the operations of their assigned duties (告示334号 第4-4(5)).
 * The CLI runs on the CA host under its own access control and passes.
 * CaError("forbidden") naming the role needed.
 */
export function assertActorRole(actor: Actor, role: OperatorRole): void {
  if (actor !== "cli" && !actor.roles.includes(role)) throw new CaError("forbidden", `this operation needs the operator role ${role}`);
}
