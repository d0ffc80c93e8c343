/**
 * @packageDocumentation
 * ca/phone: the smartphone certificates (移動端末設備用署名用／利用者証明用電子証明書, docs/phone.md).
 *
 * - phone-settings.ts (this file): the [U] decisions as configuration, validated once at start-up.
 * - phone-authorities.ts: the phone profile of each kind and the issuing authorities built from the card's.
 * - phone-application.ts: the signed application's content (phone id, the two CSRs).
 * - phone-issuance-service.ts: apply online → pending rows → sign → one completing transaction.
 * - phone-actions.ts: the holder's revocation, suspension and resumption of the phone certificates.
 */
import { CaError } from "../errors.js";
import type { CaKind, RevocationReason } from "../types.js";
import type { NameAttribute } from "../x509/name.js";
import { jpkiPolicyOids } from "../profiles/end-entity-profile.js";
import { DEFAULT_SIGNED_AT_TOLERANCE_MS } from "../holder/holder-signed-request.js";

/** Every [U] decision of the phone certificates (docs/phone.md "Decisions"). */
export interface PhoneSettings {
  /** Certificate policy OID per kind. Default: the card kind's (docs/domain.md §2: the code never invents an OID). */
  readonly policyOids: Readonly<Record<CaKind, string>>;
  /** Subject attributes before the CN that mark a phone certificate. Default `OU=phone`. */
  readonly subjectMarker: readonly NameAttribute[];
  /** How far a holder-signed request's `signedAt` may be from now. Default 5 minutes. */
  readonly signedAtToleranceMs: number;
  /** Reasons a holder may give for revoking the phone certificates. Default unspecified, keyCompromise, cessationOfOperation. */
  readonly holderRevocationReasons: readonly RevocationReason[];
}

export const defaultPhoneSettings: PhoneSettings = Object.freeze({
  policyOids: Object.freeze({ ...jpkiPolicyOids }),
  subjectMarker: Object.freeze([Object.freeze({ type: "OU", value: "phone" })]),
  signedAtToleranceMs: DEFAULT_SIGNED_AT_TOLERANCE_MS,
  holderRevocationReasons: Object.freeze(["unspecified", "keyCompromise", "cessationOfOperation"] as RevocationReason[]),
});

const OID = /^[0-2](\.(0|[1-9][0-9]*))+$/;
const allowedReasons: readonly RevocationReason[] = ["unspecified", "keyCompromise", "affiliationChanged", "cessationOfOperation"];

/**
 * The `phone` config section over the defaults, validated and frozen (docs/design.md invariant 8). Throws
 * CaError("invalid-input") naming the field, e.g. `phone.policyOids.sign`.
 */
export function parsePhoneSettings(raw: unknown): PhoneSettings {
  if (raw === undefined || raw === null) return defaultPhoneSettings;
  const bad = (field: string, rule: string) => new CaError("invalid-input", `phone.${field} ${rule}`, { field: `phone.${field}` });
  if (typeof raw !== "object" || Array.isArray(raw)) throw bad("", "must be an object");
  const r = raw as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!["policyOids", "subjectMarker", "signedAtToleranceSeconds", "holderRevocationReasons"].includes(key)) throw bad(key, "is not a setting");
  const oids = { ...defaultPhoneSettings.policyOids };
  if (r.policyOids !== undefined) {
    const o = r.policyOids as Record<string, unknown>;
    for (const kind of ["sign", "auth"] as const) {
      if (o[kind] === undefined) continue;
      if (typeof o[kind] !== "string" || !OID.test(o[kind])) throw bad(`policyOids.${kind}`, "must be a dotted OID");
      oids[kind] = o[kind];
    }
  }
  let marker = defaultPhoneSettings.subjectMarker;
  if (r.subjectMarker !== undefined) {
    const m = r.subjectMarker;
    if (!Array.isArray(m) || m.some((a) => typeof a?.type !== "string" || typeof a?.value !== "string" || a.value.length === 0)) throw bad("subjectMarker", "must be a list of { type, value }");
    marker = m.map((a: { type: string; value: string }) => Object.freeze({ type: a.type, value: a.value }));
  }
  let tolerance = defaultPhoneSettings.signedAtToleranceMs;
  if (r.signedAtToleranceSeconds !== undefined) {
    const t = r.signedAtToleranceSeconds;
    if (typeof t !== "number" || !Number.isInteger(t) || t < 10 || t > 3600) throw bad("signedAtToleranceSeconds", "must be an integer from 10 to 3600");
    tolerance = t * 1000;
  }
  let reasons = defaultPhoneSettings.holderRevocationReasons;
  if (r.holderRevocationReasons !== undefined) {
    const list = r.holderRevocationReasons;
    if (!Array.isArray(list) || list.length === 0 || list.some((x) => !allowedReasons.includes(x as RevocationReason))) {
      throw bad("holderRevocationReasons", `must list some of ${allowedReasons.join(", ")}`);
    }
    reasons = list as RevocationReason[];
  }
  return Object.freeze({ policyOids: Object.freeze(oids), subjectMarker: Object.freeze(marker), signedAtToleranceMs: tolerance, holderRevocationReasons: Object.freeze([...reasons]) });
}
