import { createHash } from "node:crypto";
import { derNull, derOctetString, derSequence, derTlv, DerTag } from "../ca/x509/der.js";
import { bytesEqual, DerReadError, elementContent, readChildren, readWhole } from "../ca/x509/der-reader.js";
import type { CertIdHash } from "../ca/revocation/ocsp-ports.js";

/**
 * CertID (RFC 6960 §4.1.1): how a relying party names a certificate, by the hash of its issuer's
 * name and key and its serial number.
 *
 * ```
 * CertID ::= SEQUENCE {
 *   hashAlgorithm  AlgorithmIdentifier,
 *   issuerNameHash OCTET STRING, -- hash of the issuer's DN (the DER Name)
 *   issuerKeyHash  OCTET STRING, -- hash of the issuer's public key BIT STRING value
 *   serialNumber   CertificateSerialNumber }
 * ```
 *
 * Two hashes are accepted: SHA-1 (RFC 5019 §2.1.1 makes it the lightweight profile's algorithm; what
 * openssl, Go, Java and Windows send by default) and SHA-256. Anything else is out of profile.
 */
export type { CertIdHash };
export const certIdHashes: readonly CertIdHash[] = ["sha1", "sha256"];

/** OID content octets of each hash (for comparison without decoding OIDs). */
const hashOidDer: Readonly<Record<CertIdHash, Uint8Array>> = Object.freeze({
  sha1: Uint8Array.of(0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a), // 1.3.14.3.2.26
  sha256: Uint8Array.of(0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01), // 2.16.840.1.101.3.4.2.1
});
const hashLength: Readonly<Record<CertIdHash, number>> = Object.freeze({ sha1: 20, sha256: 32 });

/**
 * The canonical AlgorithmIdentifier of each hash: parameters NULL, as openssl, Go and Java send it.
 * Pre-signed responses carry this form.
 */
const canonicalAlgorithmDer: Readonly<Record<CertIdHash, Uint8Array>> = Object.freeze({
  sha1: derSequence(hashOidDer.sha1, derNull()),
  sha256: derSequence(hashOidDer.sha256, derNull()),
});

/** A CertID as requested. */
export interface CertId {
  readonly hash: CertIdHash;
  readonly issuerNameHash: Uint8Array;
  readonly issuerKeyHash: Uint8Array;
  /**
   * The serialNumber INTEGER's content octets as lower-case hex, exactly as sent (it may be negative,
   * non-minimal or longer than a serial this CA makes: then it simply matches no certificate).
   */
  readonly serialHex: string;
  /** The CertID's DER as sent: a live response echoes it byte for byte. */
  readonly der: Uint8Array;
  /** True when `der` is the canonical encoding (NULL hash parameters) that pre-signed responses use. */
  readonly canonical: boolean;
}

/** Thrown for a CertID outside the profile; the request parser turns it into malformedRequest. */
export class CertIdError extends Error {
  override readonly name = "CertIdError";
}

/** Parses one CertID element (its whole DER). @throws CertIdError, DerReadError */
export function parseCertId(der: Uint8Array): CertId {
  const seq = readWhole(der);
  if (seq.tag !== 0x30) throw new DerReadError("CertID is not a SEQUENCE");
  const fields = readChildren(der, seq);
  const [alg, nameHash, keyHash, serial] = fields;
  if (fields.length !== 4 || alg?.tag !== 0x30 || nameHash?.tag !== 0x04 || keyHash?.tag !== 0x04 || serial?.tag !== 0x02) {
    throw new DerReadError("CertID fields");
  }
  const algFields = readChildren(der, alg);
  const oid = algFields[0];
  if (oid?.tag !== 0x06 || algFields.length > 2) throw new DerReadError("hash AlgorithmIdentifier");
  const params = algFields[1];
  // RFC 5754 §2: parameters absent or NULL; both are seen in the wild.
  if (params !== undefined && (params.tag !== 0x05 || params.end !== params.contentStart)) throw new CertIdError("hash algorithm parameters must be NULL or absent");
  const oidBytes = der.subarray(oid.start, oid.end);
  const hash = certIdHashes.find((h) => bytesEqual(hashOidDer[h], oidBytes));
  if (hash === undefined) throw new CertIdError("CertID hash algorithm is not SHA-1 or SHA-256");
  const issuerNameHash = elementContent(der, nameHash);
  const issuerKeyHash = elementContent(der, keyHash);
  if (issuerNameHash.length !== hashLength[hash] || issuerKeyHash.length !== hashLength[hash]) throw new CertIdError("CertID hash length does not fit its algorithm");
  const serialContent = elementContent(der, serial);
  if (serialContent.length === 0 || serialContent.length > 64) throw new DerReadError("serialNumber length");
  return {
    hash,
    issuerNameHash,
    issuerKeyHash,
    serialHex: Buffer.from(serialContent.buffer, serialContent.byteOffset, serialContent.byteLength).toString("hex"),
    der,
    canonical: params !== undefined,
  };
}

/**
 * The canonical CertID DER (NULL parameters) for a serial given as content-octet hex, the form
 * pre-signed responses carry.
 */
export function encodeCertId(hash: CertIdHash, issuerNameHash: Uint8Array, issuerKeyHash: Uint8Array, serialHex: string): Uint8Array {
  const serial = Buffer.from(serialHex, "hex");
  return derSequence(canonicalAlgorithmDer[hash], derOctetString(issuerNameHash), derOctetString(issuerKeyHash), derTlv(DerTag.integer, serial));
}

/** node:crypto name of each hash. */
export const nodeHashName: Readonly<Record<CertIdHash, "sha1" | "sha256">> = Object.freeze({ sha1: "sha1", sha256: "sha256" });

/** Hashes `data` with a CertID hash. */
export function certIdDigest(hash: CertIdHash, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(nodeHashName[hash]).update(data).digest());
}

/** The subjectPublicKey BIT STRING value (without tag, length and unused-bits octet) of a DER SPKI. */
export function subjectPublicKeyBits(spki: Uint8Array): Uint8Array {
  const seq = readWhole(spki);
  const [, bits] = readChildren(spki, seq);
  if (seq.tag !== 0x30 || bits?.tag !== 0x03) throw new DerReadError("not a SubjectPublicKeyInfo");
  const content = elementContent(spki, bits);
  if (content.length < 2 || content[0] !== 0) throw new DerReadError("public key BIT STRING with unused bits");
  return content.subarray(1);
}
