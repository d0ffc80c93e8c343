/**
 * @packageDocumentation
 * ca/profiles: what the certificates look like — as data, checked once at start-up.
 *
 * - end-entity-profile.ts (this file): the resident certificates (signing, user authentication).
 * - ca-profile.ts, ca-certificate.ts: the JPKI CA certificates of each kind and generation.
 * - ocsp-responder-certificate.ts: the delegated OCSP responder certificate of a CA generation.
 * - end-entity-certificate.ts: the reference builder (readable); end-entity-template.ts: the hot-path
 *   encoder, which must produce the same bytes.
 * - algorithms.ts, subject-key-policy.ts, weak-keys.ts: signature algorithms; which card keys are accepted.
 * - subject-id.ts: the opaque id in an end-entity certificate's CN.
 */
import { defaultCaProfiles, type CaProfile } from "./ca-profile.js";
import { CaError } from "../errors.js";
import { defaultSubjectKeyPolicy, type AllowedCurve, type SubjectKeyPolicy } from "./subject-key-policy.js";
import type { CaId, CaKind } from "../types.js";
import { defaultValidityRules, validateValidityRules, type ValidityRules } from "../issuance/validity.js";
import { keyUsageBits, type KeyUsageName } from "../x509/extensions.js";
import { encodeName, type NameAttribute } from "../x509/name.js";

/**
 * What an end-entity (resident) certificate of each kind looks like, AS DATA (docs/domain.md §2). The config
 * loader may override any field; `validateEndEntityProfile` checks the result once at start-up
 * (docs/design.md invariant 8). Code (the reference builder and the template) reads only this structure.
 *
 * Extension order is fixed (not configuration), so that every certificate of a CA generation has the
 * same layout and the template can precompute the constant runs; see `endEntityExtensionOrder`.
 */

/** Certificate policy OIDs (docs/domain.md §2): signing [C], user authentication [S]. */
export const jpkiPolicyOids: Readonly<Record<CaKind, string>> = Object.freeze({
  sign: "1.2.392.200149.8.5.1.1.20",
  auth: "1.2.392.200149.8.5.1.3.30",
});

/** Default CPS pointer [U: the real value is not confirmed, docs/domain.md §2]. */
export const defaultCpsUri = "https://www.jpki.go.jp/cps";

/**
 * The order of the extensions in every end-entity certificate. The first five follow the JPKI card
 * dumps (keyUsage, certificatePolicies, subjectAltName, issuerAltName, cRLDistributionPoints); AIA
 * (ours, docs/domain.md §2 [U]) and the key identifiers follow. An absent extension (SAN of user-auth, AIA when
 * switched off) is skipped; nothing else moves. RFC 5280 imposes no order.
 */
export const endEntityExtensionOrder = Object.freeze([
  "keyUsage",
  "certificatePolicies",
  "subjectAltName",
  "issuerAltName",
  "cRLDistributionPoints",
  "authorityInfoAccess",
  "authorityKeyIdentifier",
  "subjectKeyIdentifier",
] as const);

export interface EndEntityPolicy {
  readonly oid: string;
  /** id-qt-cps qualifier (IA5String URI). */
  readonly cpsUri: string;
  /** Signing: critical [C]. User-auth: critical too [U: criticality not confirmed]. */
  readonly critical: boolean;
}

export interface EndEntityProfile {
  readonly kind: CaKind;
  /** keyUsage bits, always critical (RFC 5280 §4.2.1.3 "SHOULD"; JPKI marks it critical [C]). */
  readonly keyUsage: readonly KeyUsageName[];
  readonly policy: EndEntityPolicy;
  /** The directoryName of issuerAltName: the CA profile's (docs/domain.md §2). */
  readonly issuerAltName: readonly NameAttribute[];
  /** Subject `C=JP, L=<prefecture>, L=<municipality>, CN=<id>` (true) or `C=JP, CN=<id>` (false). */
  readonly subjectLocality: boolean;
  /** The six personal-data otherNames in subjectAltName. Refused for user-auth (docs/domain.md §2). */
  readonly personalData: boolean;
  /** CRL DP of a certificate: `${crlBaseUrl}/crl/${caId}/${partition}.crl` (docs/api.md §3 route). */
  readonly crlBaseUrl: string;
  /** authorityInfoAccess id-ad-ocsp URI; null leaves AIA out (JPKI has none; ours is on by default [U]). */
  readonly ocspUrl: string | null;
  /** Subject (card) keys accepted for this kind. */
  readonly subjectKeyPolicy: SubjectKeyPolicy;
  /** Validity numbers of this CA generation (docs/domain.md §2 "differ per CA generation"). */
  readonly validity: ValidityRules;
  /**
   * Attributes written into the subject just before the CN, e.g. `OU=phone` for the smartphone
   * certificates (docs/phone.md [U]); absent or empty for the card's.
   */
  readonly subjectMarker?: readonly NameAttribute[];
}

export interface EndEntityProfileDefaults {
  /** e.g. `http://127.0.0.1:8080`: CRLs at `/crl/…`, OCSP at `/ocsp` (docs/api.md §3). No trailing `/`. */
  readonly publicBaseUrl: string;
  /** Where issuerAltName comes from; default `defaultCaProfiles[kind]`. */
  readonly caProfile?: CaProfile;
}

/** The default profile of `kind` (docs/domain.md §2), not yet validated. */
export function defaultEndEntityProfile(kind: CaKind, defaults: EndEntityProfileDefaults): EndEntityProfile {
  const caProfile = defaults.caProfile ?? defaultCaProfiles[kind];
  return {
    kind,
    keyUsage: kind === "sign" ? ["digitalSignature", "nonRepudiation"] : ["digitalSignature"],
    policy: { oid: jpkiPolicyOids[kind], cpsUri: defaultCpsUri, critical: true },
    issuerAltName: caProfile.issuerAltName,
    subjectLocality: kind === "sign",
    personalData: kind === "sign",
    crlBaseUrl: defaults.publicBaseUrl,
    ocspUrl: `${defaults.publicBaseUrl}/ocsp`,
    subjectKeyPolicy: defaultSubjectKeyPolicy,
    validity: defaultValidityRules,
  };
}

/** Overrides the config may apply on top of the defaults (shallow per field; `policy` merged). */
export type EndEntityProfileOverrides = Partial<Omit<EndEntityProfile, "kind" | "policy">> & {
  readonly policy?: Partial<EndEntityPolicy>;
};

/** Defaults + overrides, validated and frozen. */
export function endEntityProfile(
  kind: CaKind,
  defaults: EndEntityProfileDefaults,
  overrides: EndEntityProfileOverrides = {},
  field = `profile.endEntity.${kind}`,
): EndEntityProfile {
  const base = defaultEndEntityProfile(kind, defaults);
  return validateEndEntityProfile({ ...base, ...overrides, kind, policy: { ...base.policy, ...overrides.policy } }, field);
}

/** The CRL distribution point URL of a partition. */
export function crlUrlOf(crlBaseUrl: string, caId: CaId, partition: number): string {
  return `${crlBaseUrl}/crl/${caId}/${partition}.crl`;
}

const OID = /^[0-2](\.(0|[1-9][0-9]*))+$/;
const CURVES: readonly AllowedCurve[] = ["P-256", "P-384"];

/**
 * Checks a profile and returns a deep-frozen copy. Throws CaError("invalid-input") with
 * `field` = `${field}.<key>` naming the bad entry.
 */
export function validateEndEntityProfile(profile: EndEntityProfile, field = `profile.endEntity.${profile.kind}`): EndEntityProfile {
  const bad = (key: string, rule: string): CaError => new CaError("invalid-input", `${field}.${key} ${rule}`, { field: `${field}.${key}` });
  const { kind } = profile;
  if (kind !== "sign" && kind !== "auth") throw bad("kind", 'must be "sign" or "auth"');

  const ku = profile.keyUsage;
  if (!Array.isArray(ku) || ku.length === 0) throw bad("keyUsage", "must name at least one bit");
  for (const u of ku) if (!Object.hasOwn(keyUsageBits, u)) throw bad("keyUsage", `has an unknown bit`);
  if (new Set(ku).size !== ku.length) throw bad("keyUsage", "names a bit twice");
  // RFC 5280 §4.2.1.3: keyCertSign only with basicConstraints cA; end-entity certificates sign no CRLs.
  if (ku.includes("keyCertSign") || ku.includes("cRLSign")) throw bad("keyUsage", "must not contain keyCertSign or cRLSign");

  const p = profile.policy;
  if (typeof p?.oid !== "string" || !OID.test(p.oid)) throw bad("policy.oid", "must be a dotted OID");
  if (!isHttpUrl(p.cpsUri)) throw bad("policy.cpsUri", "must be an http(s) URL in printable ASCII");
  if (typeof p.critical !== "boolean") throw bad("policy.critical", "must be true or false");

  if (!Array.isArray(profile.issuerAltName) || profile.issuerAltName.length === 0) throw bad("issuerAltName", "must be a non-empty name");
  try {
    encodeName(profile.issuerAltName);
  } catch (cause) {
    throw new CaError("invalid-input", `${field}.issuerAltName is not a valid name`, { field: `${field}.issuerAltName`, cause });
  }
  if (typeof profile.subjectLocality !== "boolean") throw bad("subjectLocality", "must be true or false");
  if (typeof profile.personalData !== "boolean") throw bad("personalData", "must be true or false");
  // docs/domain.md §2: the user-authentication certificate carries no personal data and no locality.
  if (kind === "auth" && profile.personalData) throw bad("personalData", "must be false for user-authentication certificates");
  if (kind === "auth" && profile.subjectLocality) throw bad("subjectLocality", "must be false for user-authentication certificates");

  if (!isHttpUrl(profile.crlBaseUrl) || profile.crlBaseUrl.endsWith("/")) throw bad("crlBaseUrl", "must be an http(s) URL without a trailing /");
  if (profile.ocspUrl !== null && !isHttpUrl(profile.ocspUrl)) throw bad("ocspUrl", "must be null or an http(s) URL");

  const skp = profile.subjectKeyPolicy;
  if (typeof skp !== "object" || skp === null) throw bad("subjectKeyPolicy", "must be an object");
  if (skp.rsa !== null) {
    const { minBits, maxBits, exponent } = skp.rsa ?? ({} as Record<string, unknown>);
    const int = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);
    if (!int(minBits) || !int(maxBits) || minBits < 2048 || maxBits < minBits || maxBits > 16384) {
      throw bad("subjectKeyPolicy.rsa", "needs 2048 ≤ minBits ≤ maxBits ≤ 16384");
    }
    if (!int(exponent) || exponent < 3 || exponent % 2 === 0) throw bad("subjectKeyPolicy.rsa.exponent", "must be an odd integer ≥ 3");
  }
  if (!Array.isArray(skp.ec) || skp.ec.some((c) => !CURVES.includes(c))) throw bad("subjectKeyPolicy.ec", 'must list only "P-256" and "P-384"');
  if (skp.rsa === null && skp.ec.length === 0) throw bad("subjectKeyPolicy", "must accept at least one key type");

  const validity = validateValidityRules(profile.validity, `${field}.validity`);
  const marker = profile.subjectMarker ?? [];
  if (!Array.isArray(marker) || marker.some((a) => a.type === "CN" || a.type === "C" || a.type === "L")) throw bad("subjectMarker", "must be a list of attributes other than C, L and CN");
  try {
    if (marker.length > 0) encodeName(marker);
  } catch (cause) {
    throw new CaError("invalid-input", `${field}.subjectMarker is not a valid name`, { field: `${field}.subjectMarker`, cause });
  }
  return Object.freeze({
    kind,
    keyUsage: Object.freeze([...ku]),
    policy: Object.freeze({ oid: p.oid, cpsUri: p.cpsUri, critical: p.critical }),
    issuerAltName: Object.freeze(profile.issuerAltName.map((a) => Object.freeze({ ...a }))),
    subjectLocality: profile.subjectLocality,
    personalData: profile.personalData,
    crlBaseUrl: profile.crlBaseUrl,
    ocspUrl: profile.ocspUrl,
    subjectKeyPolicy: Object.freeze({ rsa: skp.rsa === null ? null : Object.freeze({ ...skp.rsa }), ec: Object.freeze([...skp.ec]) }),
    validity,
    ...(marker.length > 0 ? { subjectMarker: Object.freeze(marker.map((a) => Object.freeze({ ...a }))) } : {}),
  });
}

/** An absolute http(s) URL of printable ASCII without spaces (it goes into an IA5String). */
function isHttpUrl(value: unknown): value is string {
  if (typeof value !== "string" || !/^[\x21-\x7e]+$/.test(value)) return false;
  try {
    const u = new URL(value);
    return (u.protocol === "http:" || u.protocol === "https:") && u.host !== "";
  } catch {
    return false;
  }
}
