/**
 * @packageDocumentation
 * ca/access: whose data may a principal act on — the object-level authorization of the core.
 *
 * - resident-access.ts (this file): the policy. A counter terminal acts only on residents of its
 *   municipality; CA-side roles act on anyone, with a stated purpose; every denial is audited.
 * - certificate-lookup.ts: `GET /v1/certificates/{serial}` decided by that policy.
 * Issuance, revocation and holds call the same policy (ca/issuance, ca/revocation).
 */
import { CaError } from "../errors.js";
import { isMunicipalityCode } from "../residents/resident-fields.js";
import { actorName, type Actor } from "../operators/operator-principal.js";
import type { Clock } from "../ports.js";
import type { OperatorRole } from "../operators/roles.js";
import type { AuditStore, Tx } from "../stores.js";
import type { CertificateRecord } from "../types.js";

/**
 * Object-level authorization: whose data may this principal act on (issue 12 §1). One policy for every
 * operation on a certificate or a resident — lookups, holds, revocations, issuance — decided here in
 * the core, not in each route.
 *
 * - A counter terminal and its operators act only on residents whose current municipality (the CA's
 *   record on file, 機構保存本人確認情報, docs/domain.md §3) is the terminal's enrolled municipality: each
 *   operator does only the operations of their assigned duties (告示334号 第4-4(5), 飯田市 規程 第10条),
 *   and a municipality's clerks have no duty towards another municipality's residents. Anything else
 *   is a 404 with the body of a truly unknown serial (the serial's existence is not confirmed) and an
 *   `access.denied` audit entry (who, which terminal, which object; no personal data).
 * - CA-side operators (admin workstation, CA-side role) act on any resident, always with a stated
 *   purpose or reason, which is audited (告示334号 第4-4(7): inquiries limited so that no database can
 *   be built for other purposes).
 */

/** Where a request comes from, as far as whose data it may touch. */
export type AccessScope =
  | {
      readonly kind: "terminal";
      readonly terminalId: string;
      /** The terminal's enrolled municipality (6 digits). */
      readonly municipalityCode: string;
    }
  | {
      readonly kind: "ca-side";
      /** The admin workstation's client certificate (`admin:<id>`), or "cli". */
      readonly clientId: string;
      /** Why the CA side acts on this resident's data (recorded). */
      readonly purpose: string;
    };

export type ResidentOperation = "read" | "hold" | "revoke" | "issue";

/** Operator roles that work on the CA side (admin workstation), never at a counter. */
export const caSideRoles: readonly OperatorRole[] = Object.freeze(["ca-operator", "ca-admin", "security-officer", "auditor"]);

/** A stated purpose: 4–200 characters, as the admin inquiry asks (ca/records/inquiry.ts). */
export function parsePurpose(value: unknown, field = "purpose"): string {
  const purpose = typeof value === "string" ? value.trim() : "";
  if (purpose.length < 4 || purpose.length > 200) throw new CaError("invalid-input", "a purpose is required: 4–200 characters saying why", { field });
  return purpose;
}

/** The terminal scope of an enrolled terminal; refuses one enrolled without a municipality (fail closed). */
export function terminalScope(terminal: { readonly terminalId: string; readonly municipalityCode: string | null }): AccessScope {
  if (terminal.municipalityCode === null || !/^\d{6}$/.test(terminal.municipalityCode)) {
    throw new CaError("forbidden", "this terminal is enrolled for no municipality: re-enrol it with one");
  }
  return { kind: "terminal", terminalId: terminal.terminalId, municipalityCode: terminal.municipalityCode };
}

/**
 * The CA-side scope may only be used by an operator with a CA-side role (a terminal operator on an
 * admin workstation stays without CA-wide reach). CaError("forbidden") otherwise.
 */
export function assertScopeFitsActor(actor: Actor, scope: AccessScope): void {
  if (scope.kind !== "ca-side" || actor === "cli") return;
  if (!actor.roles.some((r) => caSideRoles.includes(r))) throw new CaError("forbidden", "CA-wide access needs a CA-side operator role");
}

/**
 * Denied by the object-level policy: answered exactly as an unknown serial (404 "no such certificate")
 * by the one error middleware, and audited by `auditDenials`.
 */
export class AccessDenied extends CaError {
  constructor(
    readonly operation: ResidentOperation,
    readonly subject: string,
    message = "no such certificate",
    kind: "not-found" | "conflict" = "not-found",
    field?: string,
  ) {
    super(kind, message, field === undefined ? {} : { field });
  }
}

/** The resident's current municipality as the record on file says (port; db/resident-municipality-store.ts). */
export interface ResidentMunicipalities {
  /** undefined: no record on file; null: on file without a known municipality. */
  currentMunicipality(residentCode: string, tx?: Tx): Promise<string | null | undefined>;
  /** Sets the municipality of a record on file (issuance, when it had none). */
  setMunicipality(residentCode: string, municipalityCode: string, tx?: Tx): Promise<void>;
}

/**
 * Whose certificate is it: the current municipality of its resident on file, else the municipality
 * that applied for it (recorded at issuance), else null (nobody at a counter may act on it).
 */
export async function municipalityOfCertificate(residents: Pick<ResidentMunicipalities, "currentMunicipality">, cert: CertificateRecord, tx?: Tx): Promise<string | null> {
  if (cert.residentCode !== null) {
    const current = await residents.currentMunicipality(cert.residentCode, tx);
    if (typeof current === "string") return current;
  }
  const recorded = cert.recorded.municipalityCode;
  return typeof recorded === "string" && isMunicipalityCode(recorded) ? recorded : null;
}

/** The one decision: may `scope` act on an object of `objectMunicipality`? */
export function mayAct(scope: AccessScope, objectMunicipality: string | null): boolean {
  if (scope.kind === "ca-side") return true;
  return objectMunicipality !== null && objectMunicipality === scope.municipalityCode;
}

/** Throws AccessDenied (404) unless `scope` may act on `cert`. */
export async function assertMayActOnCertificate(
  residents: Pick<ResidentMunicipalities, "currentMunicipality">,
  scope: AccessScope,
  cert: CertificateRecord,
  operation: ResidentOperation,
  tx?: Tx,
): Promise<void> {
  if (scope.kind === "ca-side") return;
  if (!mayAct(scope, await municipalityOfCertificate(residents, cert, tx))) throw new AccessDenied(operation, `certificate:${cert.serial}`);
}

/** The audit `detail` naming where a request came from (no personal data). */
export function scopeDetail(scope: AccessScope): Record<string, unknown> {
  return scope.kind === "terminal"
    ? { scope: "terminal", terminalId: scope.terminalId, terminalMunicipality: scope.municipalityCode }
    : { scope: "ca-side", clientId: scope.clientId, purpose: scope.purpose };
}

/**
 * Runs `work`; an AccessDenied it throws is audited as `access.denied` (outside `work`'s transaction,
 * which rolled back) and rethrown. Wrap the whole transaction, never call this inside one.
 */
export async function auditDenials<T>(deps: { readonly audit: Pick<AuditStore, "append">; readonly clock: Clock }, actor: Actor | string, scope: AccessScope, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof AccessDenied) {
      await deps.audit.append({
        at: deps.clock.now(),
        action: "access.denied",
        actor: typeof actor === "string" && actor !== "cli" ? actor : actorName(actor as Actor),
        subject: e.subject,
        outcome: "denied",
        detail: { operation: e.operation, rule: "resident-municipality", ...scopeDetail(scope) },
      });
    }
    throw e;
  }
}
