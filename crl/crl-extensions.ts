import type * as pkijs from "pkijs";
import { CaError } from "../ca/errors.js";
import type { CaId } from "../ca/types.js";
import { crlUrlOf } from "../ca/profiles/end-entity-profile.js";
import { derBoolean, derContext, derInteger, derSequence, derTlv, DerTag } from "../ca/x509/der.js";
import { extension } from "../ca/x509/extensions.js";
import { generalNameDer } from "../ca/x509/general-names.js";

/**
 * The CRL extensions of a partition CRL (RFC 5280 §5.2), built as pkijs `Extension`s over DER values
 * written with ca/x509's writer. The distribution point name is written by the same code path as the
 * certificates' cRLDistributionPoints (ca/x509/extensions.ts), so the IDP of a partition equals the
 * CDP of its certificates byte for byte (RFC 5280 §5.2.5, §6.3.3 (b)(2)(i)).
 */

export const crlExtensionOids = Object.freeze({
  cRLNumber: "2.5.29.20",
  deltaCRLIndicator: "2.5.29.27",
  issuingDistributionPoint: "2.5.29.28",
  freshestCRL: "2.5.29.46",
  reasonCode: "2.5.29.21",
  invalidityDate: "2.5.29.24",
  expiredCertsOnCRL: "2.5.29.60",
} as const);

/** The full CRL of a partition: the URL its certificates carry in their CDP (docs/api.md §3). */
export const fullCrlUrlOf = crlUrlOf;

/** The delta CRL of a partition: `${base}/crl/${caId}/${partition}-delta.crl` (docs/api.md §3). */
export function deltaCrlUrlOf(crlBaseUrl: string, caId: CaId, partition: number): string {
  return `${crlBaseUrl}/crl/${caId}/${partition}-delta.crl`;
}

/** RFC 5280 §5.2.3: CRLNumber is a non-negative INTEGER of at most 20 octets. */
function crlNumberValue(n: number | bigint, what: string): bigint {
  const v = BigInt(n);
  if (v < 0n || v >= 1n << 159n) throw new CaError("invalid-input", `${what} must be a non-negative integer below 2^159 (RFC 5280 §5.2.3)`);
  return v;
}

/** cRLNumber (RFC 5280 §5.2.3): non-critical, MUST be present. */
export function crlNumberExtension(n: number | bigint): pkijs.Extension {
  return extension(crlExtensionOids.cRLNumber, false, derInteger(crlNumberValue(n, "CRL number")));
}

/** deltaCRLIndicator (RFC 5280 §5.2.4): critical, carries the BaseCRLNumber of the complete CRL it updates. */
export function deltaCrlIndicatorExtension(baseNumber: number | bigint): pkijs.Extension {
  return extension(crlExtensionOids.deltaCRLIndicator, true, derInteger(crlNumberValue(baseNumber, "base CRL number")));
}

/**
 * DistributionPointName `[0] { fullName [0] { URI } }` as it appears both in a certificate's CDP
 * DistributionPoint and in a CRL's IssuingDistributionPoint.
 */
export function distributionPointNameDer(uri: string): Uint8Array {
  const fullName = derContext(0, generalNameDer({ type: "uniformResourceIdentifier", value: uri }), true);
  return derContext(0, fullName, true);
}

/**
 * issuingDistributionPoint (RFC 5280 §5.2.5): critical; names the partition URL and says the CRL
 * covers end-entity certificates only (onlyContainsUserCerts, `[1] IMPLICIT BOOLEAN`, DER TRUE 0xFF).
 * A delta CRL carries the same IDP as its base (same scope, §5.2.4).
 */
export function issuingDistributionPointExtension(uri: string): pkijs.Extension {
  const onlyContainsUserCerts = derContext(1, derBoolean(true).subarray(2), false);
  return extension(crlExtensionOids.issuingDistributionPoint, true, derSequence(distributionPointNameDer(uri), onlyContainsUserCerts));
}

/**
 * freshestCRL (RFC 5280 §5.2.6): non-critical, same syntax as cRLDistributionPoints, naming the delta
 * CRL of the partition. MUST NOT appear in a delta CRL.
 */
export function freshestCrlExtension(uri: string): pkijs.Extension {
  return extension(crlExtensionOids.freshestCRL, false, derSequence(derSequence(distributionPointNameDer(uri))));
}

/** GeneralizedTime `YYYYMMDDHHMMSSZ` (whole seconds, UTC: RFC 5280 §4.1.2.5.2), whatever the year. */
function generalizedTimeDer(d: Date): Uint8Array {
  const t = new Date(Math.floor(d.getTime() / 1000) * 1000);
  const y = t.getUTCFullYear();
  if (!(y >= 0 && y <= 9999)) throw new CaError("invalid-input", "expiredCertsOnCRL year outside 0000-9999");
  const text = `${String(y).padStart(4, "0")}${t.toISOString().slice(5, 19).replace(/[-T:]/g, "")}Z`;
  return derTlv(DerTag.generalizedTime, new TextEncoder().encode(text));
}

/**
 * expiredCertsOnCRL (X.509 (2019) §9.6.2.x, id-ce 60; not defined by RFC 5280): non-critical,
 * `ExpiredCertsOnCRL ::= GeneralizedTime` — the CRL keeps the revoked certificates whose notAfter is at
 * or after this date (status after expiry: docs/crl.md, ca/revocation/status-after-expiry.ts).
 */
export function expiredCertsOnCrlExtension(since: Date): pkijs.Extension {
  return extension(crlExtensionOids.expiredCertsOnCRL, false, generalizedTimeDer(since));
}
