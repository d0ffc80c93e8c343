import { isOperatorRole, type OperatorRole } from "../../../ca/operators/roles.js";
import { effectiveRoles, homeKindOf, type Kind, type Principal } from "./matrix-principals.js";

/**
 * Who may call each `/v1` route (docs/api.md §4, §5, §7 as issue 12 tightens them), as the security
 * matrix (test/security/matrix.test.ts) checks it against every route of the OpenAPI document. A route
 * in the document without a row here fails the matrix: whoever adds a route adds its row. The row is
 * also compared with the operation's `x-roles` in the document, so the two cannot drift apart.
 *
 * A rule names either machine kinds (the client certificate alone decides), any operator session, or
 * operator roles. Roles count only on the kind of workstation they are bound to (issue 12 §2:
 * terminal-operator on OU=terminal, the CA-side roles on OU=admin), and nothing counts on a client
 * certificate that is not in its register.
 */
export type Rule =
  /** Only the client certificate decides (any bearer token is ignored). */
  | { readonly machine: readonly Kind[] }
  /** Any operator session, opened on a kind that one of the account's roles is bound to. */
  | { readonly session: true }
  /** An operator session holding one of these roles, used on the role's kind. */
  | { readonly roles: readonly OperatorRole[] };

const so: Rule = { roles: ["security-officer"] };
const caOperator: Rule = { roles: ["ca-operator"] };
const auditor: Rule = { roles: ["auditor"] };
const caAdmin: Rule = { roles: ["ca-admin"] };
/** Approval routes: each approval kind then names its own requester and approver roles (ca/approvals/approval-engine.ts). */
const deciders: OperatorRole[] = ["ca-operator", "ca-admin", "security-officer"];

/** `METHOD /v1/path` (OpenAPI form) → who may call it. */
export const matrixTable: Readonly<Record<string, Rule>> = {
  // docs/api.md §4: sessions (terminals and admin workstations, registered ones only).
  "POST /v1/sessions": { machine: ["terminal", "admin"] },
  "DELETE /v1/sessions/current": { session: true },
  "POST /v1/operators/me/password": { session: true },
  // Issuance at the counter only; lookups, holds and revocations at the counter (own municipality) and
  // on the CA side (any resident, with a stated purpose or reason).
  "POST /v1/issuances": { roles: ["terminal-operator"] },
  "GET /v1/certificates/{serial}": { roles: ["terminal-operator", "ca-operator", "auditor"] },
  "POST /v1/certificates/{serial}/revocation": { roles: ["terminal-operator", "ca-operator"] },
  "POST /v1/certificates/{serial}/hold": { roles: ["terminal-operator", "ca-operator"] },
  // docs/api.md §5: the resident feed.
  "POST /v1/resident-events": { machine: ["feed"] },
  // docs/phone.md: the holder's card-signed requests, relayed by a registered holder portal.
  "POST /v1/holder/phone-applications": { machine: ["holder-portal"] },
  "POST /v1/holder/phone-certificates/revocation": { machine: ["holder-portal"] },
  "POST /v1/holder/phone-certificates/suspension": { machine: ["holder-portal"] },
  "POST /v1/holder/phone-certificates/resumption": { machine: ["holder-portal"] },
  // docs/relying-parties.md: consents signed with the card's user-auth key, relayed by the holder portal.
  "POST /v1/holder/consents": { machine: ["holder-portal"] },
  "POST /v1/holder/consents/withdrawal": { machine: ["holder-portal"] },
  // docs/relying-parties.md: queries of registered relying parties (client certificate only: personal data).
  "POST /v1/relying-party/current-serial": { machine: ["relying-party"] },
  "POST /v1/relying-party/card-signing-serial": { machine: ["relying-party"] },
  "POST /v1/relying-party/sign-auth-pair": { machine: ["relying-party"] },
  "POST /v1/relying-party/latest-four-items": { machine: ["relying-party"] },

  // docs/api.md §7: operators — security officer (four-eyes for approving roles: ca/operators/operator-admin.ts).
  "GET /v1/admin/operators": so,
  "POST /v1/admin/operators": so,
  "GET /v1/admin/operators/{id}": so,
  "POST /v1/admin/operators/{id}/roles": so,
  "POST /v1/admin/operators/{id}/unlock": so,
  "POST /v1/admin/operators/{id}/deactivate": so,
  "POST /v1/admin/operators/{id}/reactivate": so,
  "POST /v1/admin/operators/{id}/password": so,
  // Admin-workstation and feed client certificates: registered, listed, revocable (issue 12 §2) —
  // security officer (api/routes/admin-client-certificates.ts).
  "GET /v1/admin/workstations": so,
  "POST /v1/admin/workstations": so,
  "DELETE /v1/admin/workstations/{id}": so,
  "GET /v1/admin/feeds": so,
  "POST /v1/admin/feeds": so,
  "DELETE /v1/admin/feeds/{id}": so,
  "GET /v1/admin/holder-portals": so,
  "POST /v1/admin/holder-portals": so,
  "DELETE /v1/admin/holder-portals/{id}": so,
  // Terminals and relying parties — CA operator.
  "GET /v1/admin/terminals": caOperator,
  "POST /v1/admin/terminals": caOperator,
  "DELETE /v1/admin/terminals/{id}": caOperator,
  "GET /v1/admin/relying-parties": caOperator,
  "POST /v1/admin/relying-parties": caOperator,
  "DELETE /v1/admin/relying-parties/{id}": caOperator,
  "PUT /v1/admin/relying-parties/{id}/verifier": caOperator,
  // Limited inquiries (告示334号 第4-4(7)) — CA operator, auditor.
  "GET /v1/admin/certificates": { roles: ["ca-operator", "auditor"] },
  "POST /v1/admin/certificates/inquiries": { roles: ["ca-operator", "auditor"] },
  // Exports and approvals (告示334号 第4-8(2), 第2-3(1)).
  "POST /v1/admin/exports": caOperator,
  "GET /v1/admin/exports/{id}": caOperator,
  "GET /v1/admin/approvals": { roles: [...deciders, "auditor"] },
  "POST /v1/admin/approvals": { roles: deciders },
  "GET /v1/admin/approvals/{id}": { roles: [...deciders, "auditor"] },
  "POST /v1/admin/approvals/{id}/approve": { roles: deciders },
  "POST /v1/admin/approvals/{id}/reject": { roles: deciders },
  // The requester's half of a one-time password from an approved operator creation or reset (four-eyes).
  "POST /v1/admin/approvals/{id}/handover": so,
  // Audit and disclosure (告示334号 第4-4(6), 第6-8(5)) — auditor.
  "GET /v1/admin/audit": auditor,
  "POST /v1/admin/audit/verify": auditor,
  "GET /v1/admin/audit/checkpoints": auditor,
  "POST /v1/admin/audit/checkpoints": auditor,
  "GET /v1/admin/disclosures/{residentCode}": auditor,
  "POST /v1/admin/disclosures": auditor,
  // Retention — dry run: CA administrator, auditor; purge request: CA administrator.
  "POST /v1/admin/retention/dry-run": { roles: ["ca-admin", "auditor"] },
  "POST /v1/admin/retention/purges": caAdmin,
  // CRLs, CA generations, bulk revocation.
  "POST /v1/admin/crl/{caId}/run": caOperator,
  "POST /v1/admin/ca/{kind}/generations": caAdmin,
  "POST /v1/admin/revocations": caOperator,
  // Resident events and the safety valve — CA operator.
  "GET /v1/admin/events": caOperator,
  "GET /v1/admin/events/{seq}": caOperator,
  "POST /v1/admin/events/{seq}/replay": caOperator,
  "POST /v1/admin/events/halt": caOperator,
  "POST /v1/admin/events/resume": caOperator,
  "GET /v1/admin/events/safety-valve": caOperator,
  // The operator console's dashboard figures (issue 17, api/routes/admin-dashboard.ts): every human admin role, read only.
  "GET /v1/admin/dashboard": { roles: [...deciders, "auditor"] },
};

/** The document's marker for "any operator session" in `x-roles` (api/routes/sessions.ts). */
const ANY_OPERATOR = "any operator";

/** True when the target lets `p` past authentication and authorization on a route of this rule. */
export function allows(rule: Rule, p: Principal): boolean {
  if ("machine" in rule) return rule.machine.includes(p.kind);
  const roles = effectiveRoles(p.person, p.kind);
  if ("session" in rule) return roles.length > 0;
  return roles.some((r) => rule.roles.includes(r));
}

/** The `x-roles` the document should state for a rule: machine kinds, plus operator roles (or "any operator"). */
export function docRolesOf(rule: Rule): string[] {
  if ("machine" in rule) return [...rule.machine].sort();
  if ("session" in rule) return ["admin", ANY_OPERATOR, "terminal"].sort();
  return [...new Set([...rule.roles, ...rule.roles.map(homeKindOf)])].sort();
}

/**
 * A rule read from a route's `x-roles`, for routes the table does not know yet (the matrix still calls
 * them; the table test fails until someone writes the row). Without `x-roles`, nobody is allowed.
 */
export function ruleFromDoc(xRoles: readonly string[] | undefined): Rule {
  const list = xRoles ?? [];
  if (list.includes(ANY_OPERATOR)) return { session: true };
  const roles = list.filter(isOperatorRole);
  if (roles.length > 0) return { roles };
  return { machine: list.filter((k): k is Kind => k === "terminal" || k === "admin" || k === "feed" || k === "relying-party" || k === "holder-portal") };
}
