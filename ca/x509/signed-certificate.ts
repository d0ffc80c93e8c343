/**
 * @packageDocumentation
 * ca/x509: DER and X.509 building blocks, with no CA policy in them.
 *
 * - der.ts (writer), der-reader.ts (walker, byte-exact slices and comparison).
 * - name.ts, general-names.ts, extensions.ts, time.ts, serial-number.ts, public-key.ts,
 *   subject-public-key.ts: the parts of a certificate.
 * - tbs-certificate.ts, signed-certificate.ts (this file): a TBS, signed by a Signer and verified.
 * - issuer-certificate.ts: what an issuer certificate gives the certificates it issues.
 * - certification-request.ts, csr-contents.ts: reading PKCS#10 requests strictly.
 * - pem.ts: PEM armour.
 */
import { createPublicKey, verify, type KeyObject } from "node:crypto";
import type * as pkijs from "pkijs";
import { algorithmIdentifier, algorithmIdentifierDer, signatureAlgorithmOids, signatureHash } from "../profiles/algorithms.js";
import { CaError } from "../errors.js";
import type { Signer, SignatureAlgorithmName } from "../ports.js";
import { derBitString, derSequence } from "./der.js";
import { bytesEqual, DerReadError, elementBytes, elementContent, readChildren, readWhole, type DerElement } from "./der-reader.js";

/**
 * Signing a certificate without pkijs `sign()` (docs/design.md §3.1: it defaults to SHA-1 and a global engine):
 * encode the TBS once, have the Signer sign exactly those bytes, assemble
 * `SEQUENCE { tbs, signatureAlgorithm, BIT STRING signature }` with the DER writer (no re-encoding of the
 * TBS: docs/traps.md §3 trap 10), and verify the signature against the issuer key before the certificate
 * leaves this module (docs/design.md invariant 1).
 *
 * For invariant 1's "store the TBS before signing", call `encodeTbsCertificate`, record the bytes, then
 * `signTbsCertificate`. `signCertificate` does both in one go.
 */

const algorithmNames = Object.keys(signatureAlgorithmOids) as SignatureAlgorithmName[];

/**
 * Sets `signature` (inside the TBS) and `signatureAlgorithm` from `algorithm` and returns the DER of
 * the TBSCertificate. Refuses what RFC 5280 forbids and pkijs would encode anyway.
 */
export function encodeTbsCertificate(cert: pkijs.Certificate, algorithm: SignatureAlgorithmName): Uint8Array {
  const serial = cert.serialNumber.valueBlock.valueHexView;
  // RFC 5280 §4.1.2.2: positive, at most 20 octets.
  if (serial.length === 0 || serial.length > 20 || serial[0]! & 0x80 || serial.every((b) => b === 0)) {
    throw new CaError("invalid-input", "serial number must be positive and at most 20 octets", { field: "serial" });
  }
  if (cert.extensions !== undefined && cert.extensions.length === 0) cert.extensions = undefined; // SIZE (1..MAX)
  if (cert.extensions !== undefined && cert.version !== 2) {
    throw new CaError("invalid-input", "extensions need a v3 certificate (RFC 5280 §4.1.2.1)");
  }
  if (!(cert.notBefore.value.getTime() <= cert.notAfter.value.getTime())) {
    throw new CaError("invalid-input", "notAfter is before notBefore", { field: "notAfter" });
  }
  cert.signature = algorithmIdentifier(algorithm);
  cert.signatureAlgorithm = algorithmIdentifier(algorithm);
  return new Uint8Array(cert.encodeTBS().toBER(false));
}

/**
 * Signs an encoded TBSCertificate with `signer`, assembles the Certificate and verifies it against
 * `issuerPublicKey` (DER SPKI; defaults to the signer's own key). Passing the issuer certificate's SPKI
 * also catches a Signer bound to the wrong key. Throws CaError "internal" if the signature does not verify.
 */
export async function signTbsCertificate(
  tbs: Uint8Array,
  signer: Signer,
  issuerPublicKey: Uint8Array = signer.publicKey,
): Promise<Uint8Array> {
  const algId = algorithmIdentifierDer(signer.algorithm);
  const inner = tbsSignatureAlgorithm(tbs);
  if (!bytesEqual(inner, algId)) {
    throw new CaError("internal", "the TBS signature algorithm differs from the signer's (RFC 5280 §4.1.1.2)");
  }
  const signature = await signer.sign(tbs);
  if (!verifySignature(signer.algorithm, tbs, signature, issuerPublicKey)) {
    throw new CaError("internal", "certificate signature does not verify against the issuer public key");
  }
  return derSequence(tbs, algId, derBitString(signature));
}

/** `encodeTbsCertificate` then `signTbsCertificate`: the DER of the signed, verified certificate. */
export async function signCertificate(
  tbs: pkijs.Certificate,
  signer: Signer,
  options: { issuerPublicKey?: Uint8Array } = {},
): Promise<Uint8Array> {
  return signTbsCertificate(encodeTbsCertificate(tbs, signer.algorithm), signer, options.issuerPublicKey);
}

/**
 * Verifies a DER certificate's signature with `issuerSpki` (DER SubjectPublicKeyInfo) on the TBS bytes
 * as they appear in the certificate. False on a bad signature, an unknown or mismatched algorithm
 * (outer vs TBS, RFC 5280 §4.1.1.2), a key of the wrong type, or malformed DER.
 */
export function verifyCertificateSignature(der: Uint8Array, issuerSpki: Uint8Array): boolean {
  let parts: { tbs: Uint8Array; algId: Uint8Array; signature: Uint8Array };
  try {
    parts = splitSigned(der);
  } catch (e) {
    if (e instanceof DerReadError) return false;
    throw e;
  }
  const algorithm = algorithmNames.find((name) => bytesEqual(algorithmIdentifierDer(name), parts.algId));
  if (algorithm === undefined) return false;
  try {
    if (!bytesEqual(tbsSignatureAlgorithm(parts.tbs), parts.algId)) return false;
  } catch (e) {
    if (e instanceof CaError) return false;
    throw e;
  }
  return verifySignature(algorithm, parts.tbs, parts.signature, issuerSpki);
}

/**
 * Splits any `SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING }` (certificate, CRL, OCSP basic response)
 * into byte views. The BIT STRING must have 0 unused bits.
 */
export function splitSigned(der: Uint8Array): { tbs: Uint8Array; algId: Uint8Array; signature: Uint8Array } {
  const outer = readWhole(der);
  const children = outer.tag === 0x30 ? readChildren(der, outer) : [];
  const [tbs, algId, sig] = children as [DerElement?, DerElement?, DerElement?];
  if (children.length !== 3 || tbs?.tag !== 0x30 || algId?.tag !== 0x30 || sig?.tag !== 0x03) {
    throw new DerReadError("not a signed SEQUENCE { tbs, algorithm, signature }");
  }
  const bits = elementContent(der, sig);
  if (bits.length < 1 || bits[0] !== 0) throw new DerReadError("signature BIT STRING with unused bits");
  return { tbs: elementBytes(der, tbs), algId: elementBytes(der, algId), signature: bits.subarray(1) };
}

/** Verifies `signature` over `data` with a DER SPKI, checking the key type fits the algorithm. */
export function verifySignature(
  algorithm: SignatureAlgorithmName,
  data: Uint8Array,
  signature: Uint8Array,
  spki: Uint8Array,
): boolean {
  let key: KeyObject;
  try {
    key = publicKeyObject(spki);
  } catch {
    return false;
  }
  const wanted = algorithm === "sha256WithRSAEncryption" ? "rsa" : "ec";
  if (key.asymmetricKeyType !== wanted) return false;
  try {
    // RSA: PKCS#1 v1.5 is node's default padding; ECDSA: DER ECDSA-Sig-Value is the default encoding.
    return verify(signatureHash[algorithm], data, key, signature);
  } catch {
    return false;
  }
}

/** KeyObjects cached per SPKI array (signer.publicKey is one stable array per key). */
const keyCache = new WeakMap<Uint8Array, KeyObject>();
function publicKeyObject(spki: Uint8Array): KeyObject {
  let key = keyCache.get(spki);
  if (!key) {
    key = createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength), format: "der", type: "spki" });
    keyCache.set(spki, key);
  }
  return key;
}

/**
 * The TBS `signature` AlgorithmIdentifier bytes (a view): after the optional `[0]` version and the
 * serial. DerReadError when `tbs` is not a SEQUENCE with one there.
 */
export function tbsSignatureAlgorithmDer(tbs: Uint8Array): Uint8Array {
  const seq = readWhole(tbs);
  const fields = seq.tag === 0x30 ? readChildren(tbs, seq) : [];
  const index = fields[0]?.tag === 0xa0 ? 2 : 1;
  const alg = fields[index];
  if (alg === undefined || alg.tag !== 0x30) throw new DerReadError("no signature field");
  return elementBytes(tbs, alg);
}

/** tbsSignatureAlgorithmDer, with CaError "internal" for a malformed TBS (we encoded it ourselves). */
function tbsSignatureAlgorithm(tbs: Uint8Array): Uint8Array {
  try {
    return tbsSignatureAlgorithmDer(tbs);
  } catch (e) {
    if (e instanceof DerReadError) throw new CaError("internal", "malformed TBSCertificate");
    throw e;
  }
}
