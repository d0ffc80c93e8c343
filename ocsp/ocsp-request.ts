import { bytesEqual, DerReadError, elementBytes, elementContent, readChildren, readElement, readWhole, type DerElement } from "../ca/x509/der-reader.js";
import { CertIdError, parseCertId, type CertId } from "./cert-id.js";

/**
 * OCSPRequest parsing (RFC 6960 §4.1.1), with the DER element walker rather than pkijs: this runs for
 * every relying-party request, and pkijs spends most of a millisecond per request (docs/traps.md §3).
 *
 * ```
 * OCSPRequest ::= SEQUENCE { tbsRequest TBSRequest, optionalSignature [0] EXPLICIT Signature OPTIONAL }
 * TBSRequest  ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, requestorName [1] EXPLICIT GeneralName OPTIONAL,
 *                            requestList SEQUENCE OF Request, requestExtensions [2] EXPLICIT Extensions OPTIONAL }
 * Request     ::= SEQUENCE { reqCert CertID, singleRequestExtensions [0] EXPLICIT Extensions OPTIONAL }
 * ```
 *
 * A request signature is accepted and not checked: access control is the API key or client
 * certificate of the HTTP layer (docs/api.md §3), not RFC 6960 §4.1.2 signed requests.
 */

/** The nonce extension (RFC 8954 §2.1, RFC 6960 §4.4.1). */
const NONCE_OID = Uint8Array.of(0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02);
/** RFC 8954 §2.1: Nonce ::= OCTET STRING (SIZE(1..32)). */
export const MAX_NONCE_OCTETS = 32;

export interface OcspRequest {
  readonly certIds: readonly CertId[];
  /**
   * The nonce extension's extnValue octets (the DER of the Nonce OCTET STRING), echoed unchanged in
   * the response; undefined without a nonce.
   */
  readonly nonce: Uint8Array | undefined;
}

/** Why a request cannot be answered, as an OCSPResponseStatus (RFC 6960 §4.2.1). */
export class OcspRequestError extends Error {
  override readonly name = "OcspRequestError";
  constructor(
    readonly status: "malformedRequest",
    message: string,
  ) {
    super(message);
  }
}

export interface RequestLimits {
  /** CertIDs per request (RFC 5019 §2.1.1 wants one; several are allowed up to this cap). */
  readonly maxCertIds: number;
}

const malformed = (why: string): OcspRequestError => new OcspRequestError("malformedRequest", why);

/** Parses a DER OCSPRequest. @throws OcspRequestError for anything malformed or out of profile. */
export function parseOcspRequest(der: Uint8Array, limits: RequestLimits): OcspRequest {
  try {
    return parse(der, limits);
  } catch (e) {
    if (e instanceof DerReadError || e instanceof CertIdError) throw malformed(e.message);
    if (e instanceof RangeError) throw malformed("bad DER");
    throw e;
  }
}

function parse(der: Uint8Array, limits: RequestLimits): OcspRequest {
  const outer = readWhole(der);
  if (outer.tag !== 0x30) throw malformed("not a SEQUENCE");
  const top = readChildren(der, outer);
  const tbs = top[0];
  if (tbs?.tag !== 0x30 || top.length > 2 || (top[1] !== undefined && top[1].tag !== 0xa0)) throw malformed("OCSPRequest fields");
  const fields = readChildren(der, tbs);
  let i = 0;
  if (fields[i]?.tag === 0xa0) {
    // [0] EXPLICIT Version: only v1 (0) exists.
    const v = fields[i]!;
    const inner = readElement(der, v.contentStart, v.end);
    const content = elementContent(der, inner);
    if (inner.tag !== 0x02 || inner.end !== v.end || content.length !== 1 || content[0] !== 0) throw malformed("unsupported version");
    i++;
  }
  if (fields[i]?.tag === 0xa1) i++; // requestorName: informational
  const list = fields[i++];
  if (list?.tag !== 0x30) throw malformed("no requestList");
  const extensions = fields[i]?.tag === 0xa2 ? fields[i++] : undefined;
  if (i !== fields.length) throw malformed("TBSRequest fields");

  // Count before parsing each CertID: a 1,000-CertID request costs one walk, not 1,000 parses.
  const requests = readChildren(der, list);
  if (requests.length === 0) throw malformed("empty requestList");
  if (requests.length > limits.maxCertIds) throw malformed(`more than ${limits.maxCertIds} CertIDs`);
  const certIds: CertId[] = [];
  for (const r of requests) {
    if (r.tag !== 0x30) throw malformed("Request is not a SEQUENCE");
    const parts = readChildren(der, r);
    const reqCert = parts[0];
    if (reqCert?.tag !== 0x30 || parts.length > 2 || (parts[1] !== undefined && parts[1].tag !== 0xa0)) throw malformed("Request fields");
    if (parts[1] !== undefined) readExtensions(der, parts[1], false);
    certIds.push(parseCertId(elementBytes(der, reqCert)));
  }
  const nonce = extensions === undefined ? undefined : readExtensions(der, extensions, true);
  return { certIds, nonce };
}

/**
 * Reads `[n] EXPLICIT Extensions`; returns the nonce's extnValue when `allowNonce`.
 * RFC 6960 §4.4: unrecognised extensions are ignored unless critical; a critical one we do not
 * understand makes the request one we cannot answer as asked.
 */
function readExtensions(der: Uint8Array, wrapper: DerElement, allowNonce: boolean): Uint8Array | undefined {
  const seq = readElement(der, wrapper.contentStart, wrapper.end);
  if (seq.tag !== 0x30 || seq.end !== wrapper.end) throw malformed("Extensions");
  let nonce: Uint8Array | undefined;
  for (const ext of readChildren(der, seq)) {
    if (ext.tag !== 0x30) throw malformed("Extension");
    const parts = readChildren(der, ext);
    const oid = parts[0];
    let critical = false;
    let valueIndex = 1;
    if (parts[1]?.tag === 0x01) {
      const b = elementContent(der, parts[1]);
      if (b.length !== 1) throw malformed("BOOLEAN");
      critical = b[0] !== 0;
      valueIndex = 2;
    }
    const value = parts[valueIndex];
    if (oid?.tag !== 0x06 || value?.tag !== 0x04 || parts.length !== valueIndex + 1) throw malformed("Extension fields");
    if (allowNonce && bytesEqual(elementBytes(der, oid), NONCE_OID)) {
      if (nonce !== undefined) throw malformed("two nonces");
      nonce = checkedNonce(elementContent(der, value));
    } else if (critical) {
      throw malformed("unsupported critical extension");
    }
  }
  return nonce;
}

/** RFC 8954 §2.1: the extnValue is a DER OCTET STRING of 1–32 octets; anything else is malformedRequest. */
function checkedNonce(extnValue: Uint8Array): Uint8Array {
  let inner: DerElement;
  try {
    inner = readWhole(extnValue);
  } catch {
    throw malformed("nonce is not an OCTET STRING");
  }
  const length = inner.end - inner.contentStart;
  if (inner.tag !== 0x04 || length < 1 || length > MAX_NONCE_OCTETS) throw malformed("nonce must be 1-32 octets (RFC 8954)");
  return extnValue;
}

/**
 * The DER of a GET request (RFC 6960 Appendix A.1: `{url}/{url-encoding of base-64 encoding of the
 * DER encoding of the OCSPRequest}`). Accepts the path part after the prefix, URL-encoded or not
 * (clients differ), and the base64url alphabet. @throws OcspRequestError
 */
export function decodeGetRequest(encoded: string, maxBytes: number): Uint8Array {
  let text: string;
  try {
    text = encoded.includes("%") ? decodeURIComponent(encoded) : encoded;
  } catch {
    throw malformed("bad URL encoding");
  }
  // Some clients and proxies join or split the path on "/"; base64 itself never contains whitespace.
  if (text.length === 0 || text.length > Math.ceil(maxBytes / 3) * 4 + 4) throw malformed(text.length === 0 ? "empty request" : "request too large");
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) throw malformed("not base64");
  const bytes = Buffer.from(text, "base64");
  if (bytes.length === 0 || bytes.length > maxBytes) throw malformed("request size");
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
