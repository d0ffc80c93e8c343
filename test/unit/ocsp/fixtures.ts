/**
 * Shared set-up for the OCSP tests: CA generations (MemorySigner keys) with delegated responder
 * certificates, certificates issued by them, and OCSP requests built with the DER writer.
 */
import { buildOcspResponderCertificate } from "../../../ca/profiles/ocsp-responder-certificate.js";
import { EndEntityIssuer } from "../../../ca/issuance/end-entity-issuer.js";
import type { Signer } from "../../../ca/ports.js";
import { partitionOf } from "../../../ca/issuance/serial.js";
import { caIdOf, type CaGeneration, type CaKind } from "../../../ca/types.js";
import { derContext, derOctetString, derSequence, derBoolean } from "../../../ca/x509/der.js";
import { parseIssuerCertificate } from "../../../ca/x509/issuer-certificate.js";
import { MemorySigner } from "../../../hsm/memory-signer.js";
import { certIdDigest, encodeCertId, subjectPublicKeyBits, type CertIdHash } from "../../../ocsp/cert-id.js";
import { makeTestCa, templateContext, type TestCa } from "../../support/end-entity-fixtures.js";

export interface OcspTestCa {
  readonly ca: TestCa;
  readonly generation: CaGeneration;
  readonly responderSigner: Signer;
  readonly issuer: EndEntityIssuer;
}

/**
 * A CA generation with its responder. `responderKey`: the responder's Signer (default a software
 * P-256 key) and the key URI recorded for it.
 */
export async function makeOcspCa(
  options: { kind?: CaKind; generation?: number; responder?: { signer: Signer; uri: string }; responderNotBefore?: Date; responderValidityDays?: number } = {},
): Promise<OcspTestCa> {
  const kind = options.kind ?? "auth";
  const generation = options.generation ?? 1;
  const ca = await makeTestCa(kind, { type: "ec", curve: "P-256" }, generation);
  const responderSigner = options.responder?.signer ?? MemorySigner.generate({ type: "ec", curve: "P-256" });
  const id = caIdOf(kind, generation);
  const responderCert = await buildOcspResponderCertificate({
    caId: id,
    caCertificate: ca.certificate,
    caSigner: ca.signer,
    responderPublicKey: responderSigner.publicKey,
    serial: BigInt(0x0100 + generation),
    notBefore: options.responderNotBefore ?? new Date(Date.now() - 3600_000),
    validityDays: options.responderValidityDays ?? 90,
  });
  const record: CaGeneration = {
    id,
    kind,
    generation,
    keyAlgorithm: "P-256",
    signatureAlgorithm: "ecdsa-with-SHA256",
    keyUri: `pkcs11:token=test;object=${id};type=private`,
    certificate: ca.certificate,
    serialPrefix: generation,
    partitionCount: 16,
    status: "active",
    ocspResponderCertificate: responderCert,
    ocspResponderKeyUri: options.responder?.uri ?? `pkcs11:token=test;object=${id}-ocsp-1;type=private`,
    createdAt: new Date("2026-01-05T00:00:00Z"),
  };
  const issuer = EndEntityIssuer.create(templateContext(ca, { partitionCount: 16, generation }));
  return { ca, generation: record, responderSigner, issuer };
}

/** Issues an end-entity certificate (DER) with the given serial. */
export async function issueCertificate(t: OcspTestCa, serialHex: string, validity: { notBefore?: Date; notAfter?: Date } = {}): Promise<Uint8Array> {
  const notBefore = validity.notBefore ?? new Date(Date.now() - 86_400_000);
  const tbs = t.issuer.prepare({
    serialHex,
    partition: partitionOf(serialHex, 16),
    notBefore,
    notAfter: validity.notAfter ?? new Date(notBefore.getTime() + 365 * 86_400_000),
    subjectId: "0123456789ABCDEF01234567",
    subjectPublicKey: MemorySigner.generate({ type: "ec", curve: "P-256" }).publicKey,
  });
  return t.issuer.finish(tbs, await t.ca.signer.sign(tbs));
}

/** The CertID of `serialHex` under the test CA (canonical form). */
export function certIdOf(t: OcspTestCa, serialHex: string, hash: CertIdHash = "sha1"): Uint8Array {
  return certIdUnder(t.ca.certificate, serialHex, hash);
}

/** The CertID of `serialHex` under the CA certificate `caDer` (canonical form). */
export function certIdUnder(caDer: Uint8Array, serialHex: string, hash: CertIdHash = "sha1"): Uint8Array {
  const ca = parseIssuerCertificate(caDer);
  return encodeCertId(hash, certIdDigest(hash, ca.subject), certIdDigest(hash, subjectPublicKeyBits(ca.subjectPublicKey)), serialHex);
}

/** Nonce extnValue: the DER OCTET STRING (RFC 8954). */
export const nonceValue = (nonce: Uint8Array): Uint8Array => derOctetString(nonce);

const NONCE_OID = Uint8Array.of(0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02);

/** An extension: `SEQUENCE { oid, [critical], OCTET STRING value }`. */
export function extension(oidDer: Uint8Array, value: Uint8Array, critical = false): Uint8Array {
  return critical ? derSequence(oidDer, derBoolean(true), derOctetString(value)) : derSequence(oidDer, derOctetString(value));
}

/** An OCSPRequest for CertIDs (DER), with an optional nonce (its extnValue) and extra request extensions. */
export function buildRequest(certIds: readonly Uint8Array[], options: { nonceExtnValue?: Uint8Array; extensions?: Uint8Array[] } = {}): Uint8Array {
  const exts = [...(options.nonceExtnValue ? [extension(NONCE_OID, options.nonceExtnValue)] : []), ...(options.extensions ?? [])];
  const tbs = [derSequence(...certIds.map((c) => derSequence(c)))];
  if (exts.length > 0) tbs.push(derContext(2, derSequence(...exts), true));
  return derSequence(derSequence(...tbs));
}
