/**
 * @packageDocumentation
 * ca/holder: requests a resident makes online, signed with a key of their card (docs/phone.md).
 *
 * - holder-signed-request.ts (this file): the CMS SignedData a holder signs, parsed and verified against
 *   OUR record of the card certificate; failures audited as denials.
 * - holder-request-log.ts: replay protection (each signed request is acted on once).
 */
import { X509Certificate, createHash, verify } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { CaError, isCaError } from "../errors.js";
import type { Clock } from "../ports.js";
import type { AuditStore, CertificateStore } from "../stores.js";
import type { CaKind, CertificateRecord } from "../types.js";
import { bytesEqual } from "../x509/der-reader.js";

/** The request field every refusal names: the JSON field carrying the base64 DER CMS. */
export const SIGNED_REQUEST_FIELD = "signedRequest";

/** The encapsulated content: UTF-8 JSON `{ purpose, signedAt, …payload }`. */
export interface HolderSignedContent {
  /** What the holder signed for, e.g. "phone-application", "consent-grant": never accepted for another. */
  readonly purpose: string;
  /** ISO 8601 instant the holder's device signed at. */
  readonly signedAt: string;
  readonly [key: string]: unknown;
}

/** What the verifier needs: the certificate records, the audit log, the clock and the time window. */
export interface HolderSignedRequestDeps {
  readonly certificates: Pick<CertificateStore, "get">;
  readonly audit: Pick<AuditStore, "append">;
  readonly clock: Clock;
  /** [U] how far `signedAt` may be from now, either way (docs/phone.md; default 5 minutes). */
  readonly signedAtToleranceMs: number;
}

/** What the caller expects the request to be. */
export interface HolderRequestExpectation {
  readonly purpose: string;
  /** `sign` for applications and phone actions, `auth` for consents. */
  readonly kind: CaKind;
  readonly device: "card";
  /** Who relayed the request, for the audit log: e.g. "holder-portal:<id>". */
  readonly actor: string;
}

/** A verified request. */
export interface VerifiedHolderRequest {
  readonly content: HolderSignedContent;
  /** OUR record of the card certificate that signed (status valid, within its validity). */
  readonly certificate: CertificateRecord;
  /**
   * SHA-256 (hex) of the DER signed attributes — exactly what the holder's key signed, which binds the
   * content through messageDigest (RFC 5652 §5.4). The replay key: re-wrapping the same signature in
   * another CMS (extra certificates, unsigned attributes, BER) does not make a new request.
   */
  readonly digest: string;
}

/** Default for `signedAtToleranceMs`. */
export const DEFAULT_SIGNED_AT_TOLERANCE_MS = 5 * 60_000;

const OID = {
  signedData: "1.2.840.113549.1.7.2",
  data: "1.2.840.113549.1.7.1",
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  rsaEncryption: "1.2.840.113549.1.1.1",
} as const;

/** RFC 5754 digests; SHA-1 is refused. */
const digestNames: Readonly<Record<string, string>> = {
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};

/** RFC 5754 §3 signature algorithms with the digest each implies (rsaEncryption takes the SignerInfo's). */
const signatureDigest: Readonly<Record<string, string>> = {
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
};

/** Errors already written to the audit log, so `auditHolderDenials` does not write them twice. */
const audited = new WeakSet<object>();

const refuse = (kind: "invalid-input" | "unprocessable" | "conflict", message: string): CaError => new CaError(kind, message, { field: SIGNED_REQUEST_FIELD });

/** The DER of a base64 `signedRequest` field; CaError "invalid-input" when it is not base64. */
export function decodeSignedRequest(base64: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) throw refuse("invalid-input", "signedRequest must be base64 (DER CMS SignedData)");
  return new Uint8Array(Buffer.from(base64, "base64"));
}

/**
 * Verifies a holder-signed request (RFC 5652 SignedData, one SignerInfo, signed attributes, the signer's
 * certificate included) against OUR record of the card certificate: the record found by the
 * SignerInfo's issuer and serial, the included certificate byte-equal to the recorded DER, the signature
 * checked with node:crypto over the signed attributes, messageDigest equal to the content's digest; the
 * record valid (not held, not revoked) now, of the kind and device asked; `purpose` as expected (a consent
 * cannot be replayed as an application); `signedAt` within the tolerance. Every refusal is a CaError naming
 * `signedRequest`, audited as a denial ("holder.request.denied"), with no personal data in its message.
 * Replays are caught by the caller recording `digest` in its transaction (holder-request-log.ts).
 */
export async function verifyHolderSignedRequest(deps: HolderSignedRequestDeps, der: Uint8Array, expected: HolderRequestExpectation): Promise<VerifiedHolderRequest> {
  let serial: string | null = null;
  try {
    let parsed: ParsedSignedRequest;
    try {
      parsed = parseSignedRequest(der);
    } catch (e) {
      // pkijs and asn1js throw plain errors on input they cannot read: that is malformed input (400).
      throw isCaError(e) ? e : refuse("invalid-input", "signedRequest is not a well-formed CMS SignedData");
    }
    serial = parsed.serial;
    const record = await deps.certificates.get(parsed.serial);
    // An unknown serial, a certificate of another issuer or one whose bytes differ from ours: one answer.
    const included = record?.der ? parsed.certificates.find((c) => bytesEqual(c, record.der as Uint8Array)) : undefined;
    if (!record || !included || !issuerMatches(parsed.issuer, included)) throw refuse("unprocessable", "the signer's certificate is not one this CA issued");
    verifySignature(parsed, included);
    const now = deps.clock.now();
    if (record.status !== "valid") throw refuse("unprocessable", `the signer's certificate is ${record.status === "hold" ? "on hold" : "not valid"}`);
    if (!(record.notBefore.getTime() <= now.getTime() && now.getTime() < record.notAfter.getTime())) throw refuse("unprocessable", "the signer's certificate is outside its validity period");
    if (record.kind !== expected.kind) throw refuse("unprocessable", `this request must be signed with the card's ${expected.kind === "sign" ? "signing" : "user-authentication"} key`);
    if (record.device !== expected.device) throw refuse("unprocessable", "this request must be signed with a card certificate");
    const content = parseContent(parsed.content);
    if (content.purpose !== expected.purpose) throw refuse("unprocessable", "the signed purpose does not match this request");
    const signedAt = Date.parse(content.signedAt);
    if (Math.abs(now.getTime() - signedAt) > deps.signedAtToleranceMs) throw refuse("unprocessable", "signedAt is outside the accepted window");
    return { content, certificate: record, digest: createHash("sha256").update(parsed.signedAttributes).digest("hex") };
  } catch (e) {
    // A refusal is audited; anything else (the database unavailable) goes to the error middleware as it is.
    if (isCaError(e) && e.kind !== "unavailable" && e.kind !== "internal") await auditHolderDenial(deps, expected, serial, e);
    throw e;
  }
}

/**
 * Runs `work` (verification and the action's transaction) and audits a CaError it throws as a denial,
 * unless the verifier audited it already: a replay (409) found inside a rolled-back transaction is
 * audited here, after the rollback.
 */
export async function auditHolderDenials<T>(deps: Pick<HolderSignedRequestDeps, "audit" | "clock">, expected: Pick<HolderRequestExpectation, "purpose" | "actor">, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (isCaError(e) && !audited.has(e) && e.kind !== "unavailable" && e.kind !== "internal") await auditHolderDenial(deps, expected, null, e);
    throw e;
  }
}

async function auditHolderDenial(deps: Pick<HolderSignedRequestDeps, "audit" | "clock">, expected: Pick<HolderRequestExpectation, "purpose" | "actor">, serial: string | null, err: CaError): Promise<void> {
  audited.add(err);
  await deps.audit.append({
    at: deps.clock.now(),
    action: "holder.request.denied",
    actor: expected.actor,
    subject: serial === null ? null : `certificate:${serial}`,
    outcome: "denied",
    detail: { purpose: expected.purpose, kind: err.kind, field: err.field ?? null, reason: err.message },
  });
}

interface ParsedSignedRequest {
  readonly serial: string;
  readonly issuer: pkijs.RelativeDistinguishedNames;
  /** DER of each included certificate. */
  readonly certificates: Uint8Array[];
  readonly content: Uint8Array;
  /** The signed attributes as signed: DER with the SET tag (RFC 5652 §5.4). */
  readonly signedAttributes: Uint8Array;
  readonly digestName: string;
  readonly signatureOid: string;
  readonly signature: Uint8Array;
  readonly messageDigest: Uint8Array;
}

/** The parts of the CMS the checks need; CaError "invalid-input" for anything else than the one shape accepted. */
function parseSignedRequest(der: Uint8Array): ParsedSignedRequest {
  const malformed = (why: string) => refuse("invalid-input", `signedRequest: ${why}`);
  const asn = asn1js.fromBER(der.slice().buffer);
  if (asn.offset === -1 || asn.offset !== der.length) throw malformed("not one DER element");
  const info = new pkijs.ContentInfo({ schema: asn.result });
  if (info.contentType !== OID.signedData) throw malformed("not a SignedData");
  const sd = new pkijs.SignedData({ schema: info.content });
  if (sd.signerInfos.length !== 1) throw malformed("exactly one SignerInfo is accepted");
  const si = sd.signerInfos[0] as pkijs.SignerInfo;
  if (!(si.sid instanceof pkijs.IssuerAndSerialNumber)) throw malformed("the signer must be named by issuer and serial number");
  if (sd.encapContentInfo.eContentType !== OID.data || !sd.encapContentInfo.eContent) throw malformed("the content must be encapsulated data");
  const digestName = digestNames[si.digestAlgorithm.algorithmId];
  if (!digestName) throw malformed("unsupported digest algorithm");
  const attrs = si.signedAttrs;
  if (!attrs || attrs.encodedValue.byteLength === 0) throw malformed("signed attributes are required");
  const attr = (oid: string) => attrs.attributes.filter((a) => a.type === oid);
  const [ct, md] = [attr(OID.contentType), attr(OID.messageDigest)];
  if (ct.length !== 1 || md.length !== 1) throw malformed("one content-type and one message-digest attribute are required");
  const ctValue = ct[0]?.values[0];
  if (!(ctValue instanceof asn1js.ObjectIdentifier) || ctValue.valueBlock.toString() !== OID.data) throw malformed("content-type attribute must be id-data");
  const mdValue = md[0]?.values[0];
  if (!(mdValue instanceof asn1js.OctetString)) throw malformed("message-digest attribute must be an OCTET STRING");
  const signedAttributes = new Uint8Array(attrs.encodedValue.slice(0));
  signedAttributes[0] = 0x31; // RFC 5652 §5.4: the DER of the SET OF, not of the [0] IMPLICIT it is sent as
  const certificates = (sd.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate).map((c) => new Uint8Array(c.toSchema().toBER(false)));
  const serialBytes = si.sid.serialNumber.valueBlock.valueHexView;
  return {
    serial: Buffer.from(serialBytes).toString("hex"),
    issuer: si.sid.issuer,
    certificates,
    content: new Uint8Array(sd.encapContentInfo.eContent.getValue()),
    signedAttributes,
    digestName,
    signatureOid: si.signatureAlgorithm.algorithmId,
    signature: new Uint8Array(si.signature.valueBlock.valueHexView),
    messageDigest: new Uint8Array(mdValue.getValue()),
  };
}

function issuerMatches(issuer: pkijs.RelativeDistinguishedNames, certificateDer: Uint8Array): boolean {
  const cert = pkijs.Certificate.fromBER(certificateDer.slice().buffer);
  return bytesEqual(new Uint8Array(cert.issuer.toSchema().toBER(false)), new Uint8Array(issuer.toSchema().toBER(false)));
}

/** node:crypto over the signed attributes with the recorded certificate's key; messageDigest over the content. */
function verifySignature(parsed: ParsedSignedRequest, certificateDer: Uint8Array): void {
  const contentDigest = createHash(parsed.digestName).update(parsed.content).digest();
  if (!bytesEqual(new Uint8Array(contentDigest), parsed.messageDigest)) throw refuse("unprocessable", "the message digest does not match the content");
  const key = new X509Certificate(Buffer.from(certificateDer)).publicKey;
  const implied = signatureDigest[parsed.signatureOid];
  const isRsa = parsed.signatureOid === OID.rsaEncryption || parsed.signatureOid.startsWith("1.2.840.113549.1.1.");
  if (parsed.signatureOid !== OID.rsaEncryption && implied === undefined) throw refuse("invalid-input", "signedRequest: unsupported signature algorithm");
  if (implied !== undefined && implied !== parsed.digestName) throw refuse("invalid-input", "signedRequest: the signature algorithm does not match the digest algorithm");
  if ((key.asymmetricKeyType === "rsa") !== isRsa) throw refuse("unprocessable", "the signature algorithm does not match the signer's key");
  let ok = false;
  try {
    ok = verify(parsed.digestName, parsed.signedAttributes, key, parsed.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw refuse("unprocessable", "the signature does not verify with the signer's certificate");
}

function parseContent(bytes: Uint8Array): HolderSignedContent {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw refuse("invalid-input", "signedRequest: the content must be UTF-8 JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw refuse("invalid-input", "signedRequest: the content must be a JSON object");
  const v = value as Record<string, unknown>;
  if (typeof v.purpose !== "string" || typeof v.signedAt !== "string" || Number.isNaN(Date.parse(v.signedAt))) {
    throw refuse("invalid-input", "signedRequest: the content needs a purpose and an ISO 8601 signedAt");
  }
  return v as HolderSignedContent;
}
