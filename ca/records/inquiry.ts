import { parseIsoDate } from "../calendar-date.js";
import { CaError } from "../errors.js";
import { actorName, type Actor } from "../operators/operator-principal.js";
import type { Clock } from "../ports.js";
import type { AuditStore } from "../stores.js";
import type { CertificateRecord } from "../types.js";

/**
 * Limited certificate inquiries (告示334号 第4-4(7): inquiry conditions are limited so that no
 * database can be built for other purposes). A search names exactly one certificate or one resident:
 *
 * - by serial number (exact),
 * - by resident code (住民票コード, exact 11 digits),
 * - by exact name together with date of birth,
 *
 * always with a stated purpose. No wildcards, prefixes, ranges, paging or listing; at most
 * MAX_INQUIRY_RESULTS certificates (a broader answer is refused, not truncated). Every inquiry,
 * refused ones too, goes to the audit log with who, when, the conditions, the purpose and the count.
 */
export const MAX_INQUIRY_RESULTS = 20;

export type InquiryConditions =
  | { readonly by: "serial"; readonly serial: string }
  | { readonly by: "residentCode"; readonly residentCode: string }
  | { readonly by: "nameAndDateOfBirth"; readonly name: string; readonly dateOfBirth: string };

export interface InquiryRequest {
  readonly conditions: InquiryConditions;
  readonly purpose: string;
}

/** Lookups by exact key only; each returns at most `limit` rows (ask for one more than allowed). */
export interface InquirySource {
  bySerial(serial: string): Promise<CertificateRecord | undefined>;
  byResidentCode(residentCode: string, limit: number): Promise<CertificateRecord[]>;
  /** Certificates of the residents whose current record has exactly this name and date of birth. */
  byNameAndDateOfBirth(name: string, dateOfBirth: string, limit: number): Promise<CertificateRecord[]>;
}

/** What an inquiry answers per certificate: status and dates, no personal fields. */
export interface InquiryResult {
  readonly serialNumber: string;
  readonly caId: string;
  readonly kind: string;
  readonly status: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly revokedAt: string | null;
  readonly revocationReason: string | null;
  readonly issuanceId: string | null;
  readonly municipalityCode: string | null;
  readonly applicationDate: string | null;
}

const ALLOWED = new Set(["serial", "residentCode", "name", "dateOfBirth", "purpose"]);
/** Characters that mean "any" in some query language, half- and full-width. */
const WILDCARDS = /[*?%_\\[\]^$|(){}＊？％＿]/;
const bad = (message: string, field?: string): CaError => new CaError("invalid-input", message, field === undefined ? {} : { field });

/**
 * Parses query parameters into one of the three allowed searches. CaError("invalid-input") for
 * anything else: no condition, two kinds of condition, a name without date of birth, wildcard or
 * partial values, repeated or unknown parameters (paging, sorting, listing), a missing purpose.
 */
export function parseInquiry(query: Readonly<Record<string, string | readonly string[] | undefined>>): InquiryRequest {
  const q: Record<string, string> = {};
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    if (!ALLOWED.has(k)) throw bad(`unknown parameter ${k}: inquiries are by serial, residentCode, or name + dateOfBirth only, no listing`, k);
    if (typeof v !== "string") throw bad(`${k} may be given once`, k);
    q[k] = v;
  }
  const purpose = (q.purpose ?? "").trim();
  if (purpose.length < 4 || purpose.length > 200) throw bad("purpose is required: 4–200 characters saying why this inquiry is made", "purpose");
  const given = ["serial", "residentCode", "name", "dateOfBirth"].filter((k) => q[k] !== undefined);
  for (const k of given) if (q[k]!.length === 0) throw bad(`${k} must not be empty`, k);
  for (const k of given) if (WILDCARDS.test(q[k]!)) throw bad(`${k}: wildcard and pattern characters are not allowed (exact values only)`, k);
  const only = (keys: string[]): boolean => given.length === keys.length && keys.every((k) => given.includes(k));
  if (only(["serial"])) {
    const serial = q.serial!.toLowerCase();
    if (!/^[0-9a-f]{2,40}$/.test(serial)) throw bad("serial must be the whole serial number in hex", "serial");
    return { conditions: { by: "serial", serial }, purpose };
  }
  if (only(["residentCode"])) {
    if (!/^[0-9]{11}$/.test(q.residentCode!)) throw bad("residentCode must be exactly 11 digits", "residentCode");
    return { conditions: { by: "residentCode", residentCode: q.residentCode! }, purpose };
  }
  if (only(["name", "dateOfBirth"])) {
    const name = q.name!;
    if ([...name].length > 100 || name.trim() !== name || name.trim().length === 0) throw bad("name must be the exact recorded name", "name");
    if (parseIsoDate(q.dateOfBirth!) === undefined) throw bad("dateOfBirth must be an ISO date YYYY-MM-DD", "dateOfBirth");
    return { conditions: { by: "nameAndDateOfBirth", name, dateOfBirth: q.dateOfBirth! }, purpose };
  }
  if (given.length === 0) throw bad("give one search: serial, residentCode, or name with dateOfBirth (listing is not allowed)");
  if (only(["name"]) || only(["dateOfBirth"])) throw bad("name and dateOfBirth must be given together", only(["name"]) ? "dateOfBirth" : "name");
  throw bad("give exactly one search: serial, residentCode, or name with dateOfBirth");
}

export interface CertificateInquiryDeps {
  readonly source: InquirySource;
  readonly audit: Pick<AuditStore, "append">;
  readonly clock: Clock;
}

/** Runs limited inquiries and audits each one. */
export class CertificateInquiry {
  constructor(private readonly deps: CertificateInquiryDeps) {}

  /**
   * Audits a refused inquiry (a parse error) with the raw parameter names only, then rethrows. Call
   * with the error parseInquiry threw, so over-broad attempts are on record too.
   */
  async refused(actor: Actor, parameterNames: readonly string[], error: CaError): Promise<never> {
    await this.deps.audit.append({
      at: this.deps.clock.now(),
      action: "inquiry.certificates",
      actor: actorName(actor),
      subject: null,
      outcome: "denied",
      detail: { reason: "invalid-conditions", parameters: [...parameterNames].sort(), field: error.field ?? null },
    });
    throw error;
  }

  /**
   * Runs the search. CaError("unprocessable") when more than MAX_INQUIRY_RESULTS certificates match
   * (the conditions are too broad: narrow them); the refusal is audited with the count "over".
   */
  async search(actor: Actor, request: InquiryRequest): Promise<InquiryResult[]> {
    const { conditions, purpose } = request;
    const limit = MAX_INQUIRY_RESULTS + 1;
    let rows: CertificateRecord[];
    if (conditions.by === "serial") {
      const r = await this.deps.source.bySerial(conditions.serial);
      rows = r ? [r] : [];
    } else if (conditions.by === "residentCode") {
      rows = await this.deps.source.byResidentCode(conditions.residentCode, limit);
    } else {
      rows = await this.deps.source.byNameAndDateOfBirth(conditions.name, conditions.dateOfBirth, limit);
    }
    const over = rows.length > MAX_INQUIRY_RESULTS;
    await this.deps.audit.append({
      at: this.deps.clock.now(),
      action: "inquiry.certificates",
      actor: actorName(actor),
      subject: conditions.by === "serial" ? `certificate:${conditions.serial}` : null,
      outcome: over ? "denied" : "success",
      // The audit log may hold personal data (it is not a log file): the conditions are the record.
      detail: { conditions: { ...conditions }, purpose, resultCount: over ? `>${MAX_INQUIRY_RESULTS}` : rows.length, ...(over ? { reason: "over-broad" } : {}) },
    });
    if (over) throw new CaError("unprocessable", `more than ${MAX_INQUIRY_RESULTS} certificates match: narrow the conditions`);
    return rows.map(inquiryResultOf);
  }
}

export function inquiryResultOf(c: CertificateRecord): InquiryResult {
  const s = (v: unknown): string | null => (typeof v === "string" ? v : null);
  return {
    serialNumber: c.serial,
    caId: c.caId,
    kind: c.kind,
    status: c.status,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    revokedAt: c.revokedAt?.toISOString() ?? null,
    revocationReason: c.revocationReason,
    issuanceId: c.issuanceId,
    municipalityCode: s(c.recorded.municipalityCode),
    applicationDate: s(c.recorded.applicationDate),
  };
}
