/**
 * CONTRACT §7 as a table: for every `/v1` route of the OpenAPI document, the principals that may use
 * it. test/integration/admin/role-matrix.test.ts calls every route in the document as every principal
 * and fails on any difference — and on a route missing from this table, so each new route needs a row
 * here (whoever adds the route adds the row).
 *
 * A principal is a client certificate (machine role, CONTRACT §7 OU) plus, for people, an operator
 * session of one role. "Allowed" means the request gets past authentication and authorization (any
 * answer but 401/403: with the probe's empty body a handler typically answers 400 or 404).
 */
export const principals = [
  "terminal", // terminal certificate, no session
  "admin", // admin workstation certificate, no session
  "feed",
  "relying-party",
  "terminal+terminal-operator",
  "admin+terminal-operator",
  "admin+ca-operator",
  "admin+security-officer",
  "admin+auditor",
  "admin+ca-admin",
] as const;
export type Principal = (typeof principals)[number];

const SESSIONS: Principal[] = ["terminal+terminal-operator", "admin+terminal-operator", "admin+ca-operator", "admin+security-officer", "admin+auditor", "admin+ca-admin"];
const WORKSTATIONS: Principal[] = ["terminal", "admin", ...SESSIONS];
const so: Principal[] = ["admin+security-officer"];
const caOperator: Principal[] = ["admin+ca-operator"];
const auditor: Principal[] = ["admin+auditor"];
const caAdmin: Principal[] = ["admin+ca-admin"];
const deciders: Principal[] = ["admin+ca-operator", "admin+ca-admin", "admin+security-officer"];

/** `METHOD /v1/path` (OpenAPI form) → who may call it. */
export const allowedPrincipals: Readonly<Record<string, readonly Principal[]>> = {
  // CONTRACT §4: sessions and issuance (terminal API).
  "POST /v1/sessions": WORKSTATIONS,
  "DELETE /v1/sessions/current": SESSIONS,
  "POST /v1/operators/me/password": SESSIONS,
  "POST /v1/issuances": ["terminal+terminal-operator"],
  // api/routes/issuances.ts also lets admin workstations read a record (CA operator, auditor — and a
  // terminal operator logged in there).
  "GET /v1/certificates/{serial}": ["terminal+terminal-operator", "admin+terminal-operator", "admin+ca-operator", "admin+auditor"],

  // CONTRACT §7: operators — security officer.
  "GET /v1/admin/operators": so,
  "POST /v1/admin/operators": so,
  "GET /v1/admin/operators/{id}": so,
  "POST /v1/admin/operators/{id}/roles": so,
  "POST /v1/admin/operators/{id}/unlock": so,
  "POST /v1/admin/operators/{id}/deactivate": so,
  "POST /v1/admin/operators/{id}/reactivate": so,
  "POST /v1/admin/operators/{id}/password": so,
  // Terminals and relying parties — CA operator.
  "GET /v1/admin/terminals": caOperator,
  "POST /v1/admin/terminals": caOperator,
  "DELETE /v1/admin/terminals/{id}": caOperator,
  "POST /v1/admin/relying-parties": caOperator,
  "DELETE /v1/admin/relying-parties/{id}": caOperator,
  // Limited inquiries — CA operator, auditor.
  "GET /v1/admin/certificates": ["admin+ca-operator", "admin+auditor"],
  // Exports and approvals — CA operator + a second approver (each kind names its roles; the engine refines).
  "POST /v1/admin/exports": caOperator,
  "GET /v1/admin/exports/{id}": caOperator,
  "GET /v1/admin/approvals": [...deciders, "admin+auditor"],
  "POST /v1/admin/approvals": deciders,
  "GET /v1/admin/approvals/{id}": [...deciders, "admin+auditor"],
  "POST /v1/admin/approvals/{id}/approve": deciders,
  "POST /v1/admin/approvals/{id}/reject": deciders,
  // Audit and disclosure — auditor.
  "GET /v1/admin/audit": auditor,
  "POST /v1/admin/audit/verify": auditor,
  "GET /v1/admin/audit/checkpoints": auditor,
  "POST /v1/admin/audit/checkpoints": auditor,
  "GET /v1/admin/disclosures/{residentCode}": auditor,
  // Retention — dry run: CA administrator, auditor; purge request: CA administrator.
  "POST /v1/admin/retention/dry-run": ["admin+ca-admin", "admin+auditor"],
  "POST /v1/admin/retention/purges": caAdmin,

  // Rows of the other parts go here as their routes are wired (CONTRACT §7):
  "POST /v1/admin/crl/{caId}/run": caOperator,
  "POST /v1/admin/ca/{kind}/generations": caAdmin,
  "POST /v1/admin/revocations": caOperator,
  "POST /v1/resident-events": ["feed"],
  // Resident events (CONTRACT §5) and the safety valve: CA operator.
  "GET /v1/admin/events": caOperator,
  "GET /v1/admin/events/{seq}": caOperator,
  "POST /v1/admin/events/{seq}/replay": caOperator,
  "POST /v1/admin/events/halt": caOperator,
  "POST /v1/admin/events/resume": caOperator,
  "GET /v1/admin/events/safety-valve": caOperator,
  // Manual revocation and hold (CONTRACT §4, §6): terminal operators at a terminal, CA operators (reasons checked per role).
  "POST /v1/certificates/{serial}/revocation": ["terminal+terminal-operator", "admin+terminal-operator", "admin+ca-operator"],
  "POST /v1/certificates/{serial}/hold": ["terminal+terminal-operator", "admin+terminal-operator", "admin+ca-operator"],
};

/** Routes this part serves: they must be in the document (the composition root wired them). */
export const adminRoutes = Object.keys(allowedPrincipals).filter((r) => r.includes("/v1/admin/"));
