import { algorithmIdentifierDer } from "../ca/profiles/algorithms.js";
import type { CertStatusName } from "../ca/revocation/ocsp-ports.js";
import { CaError } from "../ca/errors.js";
import type { Signer } from "../ca/ports.js";
import { revocationReasonCodes, type RevocationReason } from "../ca/types.js";
import { derBitString, derConcat, derContext, derOctetString, derSequence, derTlv, DerTag } from "../ca/x509/der.js";
import { verifySignature } from "../ca/x509/signed-certificate.js";

/**
 * OCSP responses (RFC 6960 §4.2.1), written with the DER writer: a pre-signed or live response is
 * a handful of concatenations instead of a pkijs object graph (test/unit/ocsp/ocsp-response.test.ts
 * proves the bytes equal pkijs's). Signing goes through the Signer port, never pkijs `sign()`.
 *
 * ```
 * OCSPResponse      ::= SEQUENCE { responseStatus ENUMERATED, responseBytes [0] EXPLICIT ResponseBytes OPTIONAL }
 * ResponseBytes     ::= SEQUENCE { responseType OBJECT IDENTIFIER (id-pkix-ocsp-basic), response OCTET STRING }
 * BasicOCSPResponse ::= SEQUENCE { tbsResponseData ResponseData, signatureAlgorithm AlgorithmIdentifier,
 *                                  signature BIT STRING, certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
 * ResponseData      ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, responderID ResponderID,
 *                                  producedAt GeneralizedTime, responses SEQUENCE OF SingleResponse,
 *                                  responseExtensions [1] EXPLICIT Extensions OPTIONAL }
 * SingleResponse    ::= SEQUENCE { certID CertID, certStatus CertStatus, thisUpdate GeneralizedTime,
 *                                  nextUpdate [0] EXPLICIT GeneralizedTime OPTIONAL, singleExtensions [1] EXPLICIT Extensions OPTIONAL }
 * CertStatus        ::= CHOICE { good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo, unknown [2] IMPLICIT NULL }
 * RevokedInfo       ::= SEQUENCE { revocationTime GeneralizedTime, revocationReason [0] EXPLICIT CRLReason OPTIONAL }
 * ```
 */

/** OCSPResponseStatus (RFC 6960 §4.2.1); 4 is not used. */
export type OcspResponseStatus = "successful" | "malformedRequest" | "internalError" | "tryLater" | "sigRequired" | "unauthorized";
export const ocspResponseStatusCodes: Readonly<Record<OcspResponseStatus, number>> = Object.freeze({
  successful: 0,
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
});

/**
 * What one SingleResponse says.
 * - `non-issued`: a serial this CA generation never issued. RFC 6960 §2.2: "revoked" with reason
 *   certificateHold and revocationTime 1970-01-01T00:00:00Z, with the extended revoked definition
 *   extension (§4.4.8) in responseExtensions (docs/ocsp.md explains the choice over "unknown").
 */
export type SingleStatus =
  | { readonly kind: "good" }
  | { readonly kind: "revoked"; readonly revokedAt: Date; readonly reason: RevocationReason | null }
  | { readonly kind: "unknown" }
  | { readonly kind: "non-issued" };

/** The status as it reads in an answer (metrics, access log): non-issued is a "revoked" answer. */
export type { CertStatusName };
export const certStatusName = (s: SingleStatus): CertStatusName => (s.kind === "non-issued" ? "revoked" : s.kind);

export interface SingleResponseInput {
  /** The CertID DER to answer for (the request's, byte for byte, or the canonical one). */
  readonly certId: Uint8Array;
  readonly status: SingleStatus;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /**
   * RFC 6960 §4.4.4 archiveCutoff: status is kept for certificates whose notAfter is at or after this
   * (producedAt minus the retention period; ca/revocation/status-after-expiry.ts). Written as a
   * singleExtension, where RFC 6960 Appendix B.2 places re-ocsp-archive-cutoff.
   */
  readonly archiveCutoff?: Date | undefined;
}

export interface ResponseDataInput {
  /** `[2] EXPLICIT KeyHash` of the responder (ResponderMaterial.responderIdDer). */
  readonly responderId: Uint8Array;
  readonly producedAt: Date;
  readonly responses: readonly SingleResponseInput[];
  /** The request's nonce extnValue to echo (RFC 8954 §2.1), if any. */
  readonly nonce?: Uint8Array | undefined;
}

/** id-pkix-ocsp-basic (1.3.6.1.5.5.7.48.1.1). */
const BASIC_OID = Uint8Array.of(0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01);
/** id-pkix-ocsp-nonce (1.3.6.1.5.5.7.48.1.2). */
const NONCE_OID = Uint8Array.of(0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02);
/** id-pkix-ocsp-extended-revoke (1.3.6.1.5.5.7.48.1.9) with extnValue NULL, never critical (RFC 6960 §4.4.8). */
const EXTENDED_REVOKE_EXTENSION = derSequence(
  Uint8Array.of(0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x09),
  derOctetString(Uint8Array.of(0x05, 0x00)),
);
/** id-pkix-ocsp-archive-cutoff (1.3.6.1.5.5.7.48.1.6), RFC 6960 §4.4.4. */
const ARCHIVE_CUTOFF_OID = Uint8Array.of(0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x06);
const GOOD = Uint8Array.of(0x80, 0x00);
const UNKNOWN = Uint8Array.of(0x82, 0x00);
/** RFC 6960 §2.2: the revocation time of a non-issued certificate. */
export const NON_ISSUED_REVOCATION_TIME = new Date(0);
const NON_ISSUED = revokedInfo(NON_ISSUED_REVOCATION_TIME, "certificateHold");

const errorResponses = new Map<OcspResponseStatus, Uint8Array>();

/** An OCSPResponse without responseBytes (every status but successful), e.g. `30 03 0A 01 06`. */
export function ocspErrorResponse(status: Exclude<OcspResponseStatus, "successful">): Uint8Array {
  let der = errorResponses.get(status);
  if (!der) {
    der = derSequence(derTlv(0x0a, Uint8Array.of(ocspResponseStatusCodes[status])));
    errorResponses.set(status, der);
  }
  return der;
}

/**
 * GeneralizedTime `YYYYMMDDHHMMSSZ`: RFC 6960 §4.2.2.1 follows RFC 5280 §4.1.2.5.2 (UTC, seconds, no
 * fractions), and OCSP uses GeneralizedTime whatever the year.
 */
export function generalizedTimeDer(d: Date): Uint8Array {
  const ms = d.getTime();
  if (!Number.isFinite(ms)) throw new RangeError("invalid date");
  const t = new Date(Math.floor(ms / 1000) * 1000);
  const y = t.getUTCFullYear();
  if (y < 0 || y > 9999) throw new RangeError("year outside 0000-9999");
  const p = (n: number): string => (n < 10 ? `0${n}` : String(n));
  const text = `${String(y).padStart(4, "0")}${p(t.getUTCMonth() + 1)}${p(t.getUTCDate())}${p(t.getUTCHours())}${p(t.getUTCMinutes())}${p(t.getUTCSeconds())}Z`;
  const out = new Uint8Array(2 + text.length);
  out[0] = DerTag.generalizedTime;
  out[1] = text.length;
  for (let i = 0; i < text.length; i++) out[2 + i] = text.charCodeAt(i);
  return out;
}

/**
 * `revoked [1] IMPLICIT RevokedInfo`. The reason is left out for `unspecified`: RFC 5280 §5.3.1 says
 * the reason code SHOULD be absent rather than unspecified (0), and RFC 6960 reuses CRLReason.
 */
function revokedInfo(at: Date, reason: RevocationReason | null): Uint8Array {
  const parts = [generalizedTimeDer(at)];
  if (reason !== null && reason !== "unspecified") {
    parts.push(derContext(0, derTlv(0x0a, Uint8Array.of(revocationReasonCodes[reason])), true));
  }
  return derContext(1, derConcat(...parts), true);
}

function certStatusDer(status: SingleStatus): Uint8Array {
  switch (status.kind) {
    case "good":
      return GOOD;
    case "unknown":
      return UNKNOWN;
    case "non-issued":
      return NON_ISSUED;
    case "revoked":
      return revokedInfo(status.revokedAt, status.reason);
  }
}

/**
 * One SingleResponse; nextUpdate is always present (RFC 5019 §2.2.4 requires it). With an archive
 * cutoff: `singleExtensions [1] EXPLICIT Extensions { { id-pkix-ocsp-archive-cutoff, OCTET STRING
 * { GeneralizedTime } } }`, non-critical (the DEFAULT FALSE is left out in DER).
 */
export function encodeSingleResponse(r: SingleResponseInput): Uint8Array {
  if (!(r.nextUpdate.getTime() > r.thisUpdate.getTime())) throw new CaError("internal", "OCSP nextUpdate must be after thisUpdate");
  const parts = [r.certId, certStatusDer(r.status), generalizedTimeDer(r.thisUpdate), derContext(0, generalizedTimeDer(r.nextUpdate), true)];
  if (r.archiveCutoff !== undefined) {
    parts.push(derContext(1, derSequence(derSequence(ARCHIVE_CUTOFF_OID, derOctetString(generalizedTimeDer(r.archiveCutoff)))), true));
  }
  return derSequence(...parts);
}

/** The DER ResponseData (the bytes that get signed). Version v1 is the DEFAULT, so it is omitted. */
export function encodeResponseData(input: ResponseDataInput): Uint8Array {
  if (input.responses.length === 0) throw new CaError("internal", "a ResponseData needs at least one SingleResponse");
  const extensions: Uint8Array[] = [];
  if (input.nonce !== undefined) extensions.push(derSequence(NONCE_OID, derOctetString(input.nonce)));
  if (input.responses.some((r) => r.status.kind === "non-issued")) extensions.push(EXTENDED_REVOKE_EXTENSION);
  const parts = [input.responderId, generalizedTimeDer(input.producedAt), derSequence(...input.responses.map(encodeSingleResponse))];
  if (extensions.length > 0) parts.push(derContext(1, derSequence(...extensions), true));
  return derSequence(...parts);
}

/** What signs responses for one CA generation: its delegated responder (RFC 6960 §4.2.2.2). */
export interface ResponseSigner {
  readonly signer: Signer;
  /** DER SPKI of the responder certificate: every signature is checked against it before use. */
  readonly publicKey: Uint8Array;
  /** `[0] EXPLICIT SEQUENCE OF Certificate` holding the responder certificate. */
  readonly certsDer: Uint8Array;
}

/**
 * Signs ResponseData bytes and wraps them into a complete, successful OCSPResponse. The signature is
 * verified against the responder certificate's key first (unless `verify` is false): a faulty HSM or
 * a swapped key never yields a response that relying parties and HTTP caches would hold for a day.
 */
export async function signOcspResponse(tbs: Uint8Array, responder: ResponseSigner, verify = true): Promise<Uint8Array> {
  const signature = await responder.signer.sign(tbs);
  if (verify && !verifySignature(responder.signer.algorithm, tbs, signature, responder.publicKey)) {
    throw new CaError("internal", "OCSP response signature does not verify against the responder certificate");
  }
  return wrapBasicResponse(derSequence(tbs, algorithmIdentifierDer(responder.signer.algorithm), derBitString(signature), responder.certsDer));
}

/** `OCSPResponse { successful, [0] { id-pkix-ocsp-basic, OCTET STRING basic } }`. */
export function wrapBasicResponse(basic: Uint8Array): Uint8Array {
  return derSequence(Uint8Array.of(0x0a, 0x01, 0x00), derContext(0, derSequence(BASIC_OID, derOctetString(basic)), true));
}
