import { type KeyObject, createHash, createPublicKey, verify } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { signatureAlgorithmOids } from "./algorithms.js";
import { CaError } from "./errors.js";
import {
  type SubjectKeyDescription,
  type SubjectKeyPolicy,
  acceptSubjectPublicKey,
  defaultSubjectKeyPolicy,
} from "./subject-key-policy.js";

/**
 * PKCS#10 certification requests (RFC 2986) from the counter terminal: parse, check the key against
 * the profile, and verify the self-signature as proof of possession of the card's private key.
 *
 * pkijs only parses; the signature is verified with node:crypto over the exact
 * `certificationRequestInfo` bytes as received, so nothing depends on pkijs's process-global
 * crypto engine (DESIGN §3.1, feasibility note pkijs trap 11).
 *
 * Accepted signature algorithms: sha256WithRSAEncryption (RFC 4055 §5, parameters NULL or absent),
 * ecdsa-with-SHA256 and ecdsa-with-SHA384 (RFC 5758 §3.2, parameters absent). RSA-PSS and
 * everything else (SHA-1, Ed25519, …) are refused.
 */

export interface ParsedCsr {
  /** DER SubjectPublicKeyInfo, canonical: DER re-encoded, EC points uncompressed. */
  readonly publicKey: Uint8Array;
  /** hex SHA-256 of `publicKey` (CertificateRecord.publicKeySha256: the same key always hashes the same). */
  readonly publicKeySha256: string;
  /** The key, as accepted by the profile. */
  readonly key: SubjectKeyDescription;
  readonly signatureAlgorithm: keyof typeof signatureAlgorithmOids;
  /** DER of the requested subject Name; undefined when empty. The CA builds its own subject and ignores it. */
  readonly subject: Uint8Array | undefined;
}

/** Inputs above this size are refused before parsing (a PKCS#10 with a 4096-bit key is ~1.6 KB). */
export const MAX_CSR_BYTES = 64 * 1024;

const RSA_PSS_OID = "1.2.840.113549.1.1.10";
const PEM = /-----BEGIN (NEW )?CERTIFICATE REQUEST-----([\s\S]*?)-----END \1CERTIFICATE REQUEST-----/g;

const garbled = (field: string, rule: string, cause?: unknown): CaError =>
  new CaError("invalid-input", `${field} ${rule}`, { field, cause });

/** Plain base64 of the DER (CONTRACT §4 allows PEM or base64 DER). */
function base64ToDer(text: string, field: string): Uint8Array {
  const compact = text.replace(/\s+/g, "");
  if (compact.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact) || compact.length % 4 !== 0) {
    throw garbled(field, "must be a PEM CERTIFICATE REQUEST block or base64 DER");
  }
  return new Uint8Array(Buffer.from(compact, "base64"));
}

/** PEM text (RFC 7468 §7, one block) → DER. */
function pemToDer(pem: string, field: string): Uint8Array {
  const blocks = [...pem.matchAll(PEM)];
  if (blocks.length !== 1) throw garbled(field, "must hold exactly one PEM CERTIFICATE REQUEST block");
  const body = blocks[0]![2]!.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) throw garbled(field, "is not valid base64");
  const der = Buffer.from(body, "base64");
  if (der.toString("base64") !== body) throw garbled(field, "is not valid base64");
  return new Uint8Array(der);
}

/** Walks to a child of a parsed constructed ASN.1 value. */
function child(node: asn1js.AsnType, index: number): asn1js.BaseBlock {
  const value = (node as asn1js.Sequence).valueBlock?.value;
  const c = Array.isArray(value) ? value[index] : undefined;
  if (!c) throw new Error("unexpected ASN.1 structure");
  return c;
}

function canonicalSpki(key: KeyObject): Uint8Array {
  // An EC key re-imported from JWK exports its point uncompressed, so compressed and uncompressed
  // encodings of one key hash the same (key re-use checks rely on it).
  const k = key.asymmetricKeyType === "ec" ? createPublicKey({ key: key.export({ format: "jwk" }), format: "jwk" }) : key;
  return new Uint8Array(k.export({ type: "spki", format: "der" }));
}

function signatureAlgorithmOf(csr: pkijs.CertificationRequest, key: SubjectKeyDescription, field: string): ParsedCsr["signatureAlgorithm"] {
  const refuse = (rule: string): CaError => new CaError("unprocessable", `${field}: ${rule}`, { field });
  const oid = csr.signatureAlgorithm.algorithmId;
  const params = csr.signatureAlgorithm.algorithmParams as asn1js.AsnType | undefined;
  const absent = params === undefined;
  const isNull = params instanceof asn1js.Null;
  if (oid === RSA_PSS_OID) throw refuse("RSA-PSS signatures are not accepted");
  const name = (Object.keys(signatureAlgorithmOids) as ParsedCsr["signatureAlgorithm"][]).find((n) => signatureAlgorithmOids[n] === oid);
  if (!name) throw refuse("CSR signature algorithm not accepted");
  if (name === "sha256WithRSAEncryption") {
    if (!(absent || isNull)) throw refuse("CSR signature algorithm parameters must be NULL");
    if (key.type !== "rsa") throw refuse("CSR signature algorithm does not match its key");
  } else {
    if (!absent) throw refuse("CSR signature algorithm parameters must be absent");
    if (key.type !== "ec") throw refuse("CSR signature algorithm does not match its key");
  }
  return name;
}

/**
 * Parses a PEM string or DER bytes holding one PKCS#10 request, checks its key against `policy` and
 * verifies its signature (proof of possession). `field` names the request field in errors
 * (e.g. "requests[0].csr").
 *
 * Errors: garbled, truncated, trailing data, not v1 → CaError("invalid-input", field);
 * a key the profile refuses, an algorithm not accepted → CaError("unprocessable", field);
 * a signature that does not verify → CaError("unprocessable", field, "CSR signature does not verify").
 */
export function parseCsr(input: string | Uint8Array, field: string, policy: SubjectKeyPolicy = defaultSubjectKeyPolicy): ParsedCsr {
  const size = typeof input === "string" ? Buffer.byteLength(input) : input.byteLength;
  if (size > MAX_CSR_BYTES) throw garbled(field, `must be at most ${MAX_CSR_BYTES} bytes`);
  const der = typeof input === "string" ? (input.includes("-----BEGIN") ? pemToDer(input, field) : base64ToDer(input, field)) : input;
  if (der.byteLength === 0) throw garbled(field, "is empty");

  const asn1 = asn1js.fromBER(der);
  if (asn1.offset === -1) throw garbled(field, "is not valid DER (garbled or truncated)");
  if (asn1.offset !== der.byteLength) throw garbled(field, "has data after the request");

  let csr: pkijs.CertificationRequest;
  let spkiDer: Uint8Array;
  let subjectDer: Uint8Array;
  try {
    csr = new pkijs.CertificationRequest({ schema: asn1.result });
    const info = child(asn1.result, 0);
    subjectDer = child(info, 1).valueBeforeDecodeView;
    spkiDer = child(info, 2).valueBeforeDecodeView;
  } catch (cause) {
    throw garbled(field, "is not a PKCS#10 certification request", cause);
  }
  if (csr.version !== 0) throw garbled(field, "must be a version 1 (0) certification request");

  // The key is checked before the signature: no verifying with a 16k-bit RSA key.
  const { keyObject, key } = acceptSubjectPublicKey(spkiDer, policy, field);
  const signatureAlgorithm = signatureAlgorithmOf(csr, key, field);

  const bits = csr.signatureValue.valueBlock;
  let ok = false;
  if (bits.unusedBits === 0) {
    try {
      const hash = signatureAlgorithm === "ecdsa-with-SHA384" ? "sha384" : "sha256";
      // RSA: PKCS#1 v1.5 is node's default for an "rsa" key; ECDSA: DER ECDSA-Sig-Value (dsaEncoding "der").
      ok = verify(hash, csr.tbsView, keyObject, bits.valueHexView);
    } catch {
      ok = false; // e.g. an ECDSA signature that is not a DER SEQUENCE
    }
  }
  if (!ok) throw new CaError("unprocessable", "CSR signature does not verify", { field });

  const publicKey = canonicalSpki(keyObject);
  return Object.freeze({
    publicKey,
    publicKeySha256: createHash("sha256").update(publicKey).digest("hex"),
    key,
    signatureAlgorithm,
    // An empty Name is SEQUENCE {} = 30 00.
    subject: subjectDer.byteLength <= 2 ? undefined : new Uint8Array(subjectDer),
  });
}
