import type { ApprovalExecutor, ApprovalRecord } from "./approval.js";
import type { OperatorStore } from "../operators/operator-ports.js";
import type { OperatorPrincipal } from "../operators/operator-principal.js";
import type { OperatorRole } from "../operators/roles.js";

/**
 * Separation of duties between accounts, on top of "nobody approves their own request" (告示334号
 * 第2-3(1), 第4-8(2); issue 12: four-eyes that no single person can satisfy alone):
 *
 * 1. An account approves nothing until a second security officer has confirmed its roles
 *    (`confirmedAt`): one officer cannot make approvers by themselves.
 * 2. Whoever requested a change to an account (its creation, a role grant, a password reset: its
 *    sponsors) never approves a request made by that account, nor one about that account: a sponsor
 *    may know or have chosen its credentials.
 * 3. Nobody approves a request about their own account.
 */
export type ApprovalAccounts = Pick<OperatorStore, "get">;

export interface SeparationRefusal {
  /** Audit reason, e.g. "approver-unconfirmed". */
  readonly reason: string;
  /** The problem detail (no personal data: operator ids are not personal data of residents). */
  readonly message: string;
}

/** Why `approver` may not approve `record`, or undefined when the rules above allow it. */
export async function separationRefusal(
  accounts: ApprovalAccounts,
  executor: ApprovalExecutor,
  record: ApprovalRecord,
  approver: OperatorPrincipal,
): Promise<SeparationRefusal | undefined> {
  const own = await accounts.get(approver.operatorId);
  if (own === undefined || own.confirmedAt === null) {
    return { reason: "approver-unconfirmed", message: "this account approves nothing until a second security officer has confirmed its roles" };
  }
  const requester = await accounts.get(record.requestedBy);
  if (requester?.sponsors.includes(approver.operatorId)) {
    return { reason: "sponsor-of-requester", message: "separation of duties: you requested a change to the requester's account, so you never approve its requests" };
  }
  const subject = executor.subjectOperator?.(record.params);
  if (subject !== undefined) {
    if (subject === approver.operatorId) return { reason: "own-account", message: "separation of duties: nobody approves a change to their own account" };
    const about = await accounts.get(subject);
    if (about?.sponsors.includes(approver.operatorId)) {
      return { reason: "sponsor-of-subject", message: "separation of duties: you requested a change to this account before, so another security officer approves" };
    }
  }
  return undefined;
}

/** Every role that can request or approve some registered kind: the roles a single officer may not hand out alone. */
export function fourEyesRoles(executors: Iterable<ApprovalExecutor>): OperatorRole[] {
  const roles = new Set<OperatorRole>();
  for (const e of executors) for (const r of [...e.requestRoles, ...e.approveRoles]) roles.add(r);
  return [...roles].sort();
}
