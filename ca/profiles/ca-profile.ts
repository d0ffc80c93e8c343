import type { SignatureAlgorithmName } from "../ports.js";
import type { CaKind, KeySpec } from "../types.js";
import type { NameAttribute } from "../x509/name.js";

/**
 * What a JPKI CA certificate of each kind looks like, as data (docs/domain.md §2). The config loader may
 * override any field; code reads only this structure.
 */
export interface CaProfile {
  readonly kind: CaKind;
  /** Subject = issuer DN, in encoding order; shared by all generations of a kind (docs/domain.md §2). */
  readonly subject: readonly NameAttribute[];
  /** The directoryName put into issuerAltName (UTF8String where not printable). */
  readonly issuerAltName: readonly NameAttribute[];
  /** notAfter = notBefore + this many years, at 23:59:59 JST of that day. */
  readonly validityYears: number;
  /** The key the ceremony generates for a new generation. */
  readonly keySpec: KeySpec;
  readonly signatureAlgorithm: SignatureAlgorithmName;
  /** Validity of the delegated OCSP responder certificate (docs/domain.md §4). */
  readonly ocspResponderValidityDays: number;
}

/** The organisational unit that names each kind's CA in the production DN [C]. */
export const caUnitName: Readonly<Record<CaKind, string>> = Object.freeze({
  sign: "JPKI for digital signature",
  auth: "JPKI for user authentication",
});

/** The Japanese unit name used in issuerAltName [U: docs/domain.md §2 confirms only `C=JP, O=公的個人認証サービス, …`]. */
export const caUnitNameJa: Readonly<Record<CaKind, string>> = Object.freeze({
  sign: "署名用認証局",
  auth: "利用者証明用認証局",
});

function profile(kind: CaKind): CaProfile {
  return Object.freeze({
    kind,
    subject: Object.freeze([
      { type: "C", value: "JP" },
      { type: "O", value: "JPKI" },
      { type: "OU", value: caUnitName[kind] },
      { type: "OU", value: "Japan Agency for Local Authority Information Systems" },
    ]),
    issuerAltName: Object.freeze([
      { type: "C", value: "JP" },
      { type: "O", value: "公的個人認証サービス", stringType: "utf8" },
      { type: "OU", value: caUnitNameJa[kind], stringType: "utf8" },
    ]),
    validityYears: 10,
    // Current generation: RSA-2048 / sha256WithRSAEncryption; next: P-384 / ecdsa-with-SHA384 [S].
    keySpec: Object.freeze({ type: "rsa", bits: 2048 }),
    signatureAlgorithm: "sha256WithRSAEncryption",
    ocspResponderValidityDays: 90,
  } satisfies CaProfile);
}

/** Default profiles per kind (production DN of docs/domain.md §2). */
export const defaultCaProfiles: Readonly<Record<CaKind, CaProfile>> = Object.freeze({
  sign: profile("sign"),
  auth: profile("auth"),
});
