import { type KeyObject, createPublicKey, verify } from "node:crypto";
import { signatureAlgorithmOids } from "../profiles/algorithms.js";
import { CaError } from "../errors.js";
import { sha256Hex } from "../sha256.js";
import { readCertificationRequest, type CertificationRequestParts } from "../x509/certification-request.js";
import { checkCertificationRequestContents } from "../x509/csr-contents.js";
import { TrailingBytesError } from "../x509/der-reader.js";
import { ecSpki, rsaSpki } from "../x509/subject-public-key.js";
import { oidDer } from "../x509/general-names.js";
import {
  type SubjectKeyDescription,
  type SubjectKeyPolicy,
  acceptSubjectPublicKey,
  defaultSubjectKeyPolicy,
} from "../profiles/subject-key-policy.js";

/**
 * PKCS#10 certification requests (RFC 2986) from the counter terminal: parse, check the key against
 * the profile, and verify the self-signature as proof of possession of the card's private key.
 *
 * The structure is read with the DER walker (ca/x509/certification-request.ts: the same acceptance as
 * pkijs's schema, at a fraction of the cost, on the issuance hot path); the signature is verified
 * with node:crypto over the exact `certificationRequestInfo` bytes as received.
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

/** Plain base64 of the DER (docs/api.md §4 allows PEM or base64 DER). */
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

/**
 * The canonical DER SPKI of a key: written from its JWK for RSA and P-256/P-384 (byte-identical to
 * node:crypto's SPKI export, at a hundredth of the cost: x509/subject-public-key.ts), else exported.
 */
function canonicalSpki(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: "jwk" });
  const bytes = (v: string | undefined): Uint8Array => new Uint8Array(Buffer.from(v ?? "", "base64url"));
  if (jwk.kty === "RSA" && jwk.n && jwk.e) return rsaSpki(bytes(jwk.n), bytes(jwk.e));
  if (jwk.kty === "EC" && (jwk.crv === "P-256" || jwk.crv === "P-384") && jwk.x && jwk.y) return ecSpki(jwk.crv, bytes(jwk.x), bytes(jwk.y));
  return exportedSpki(key);
}

function exportedSpki(key: KeyObject): Uint8Array {
  // An EC key re-imported from JWK exports its point uncompressed, so compressed and uncompressed
  // encodings of one key hash the same (key re-use checks rely on it).
  const k = key.asymmetricKeyType === "ec" ? createPublicKey({ key: key.export({ format: "jwk" }), format: "jwk" }) : key;
  return new Uint8Array(k.export({ type: "spki", format: "der" }));
}

/** The accepted signature algorithms and RSA-PSS, by the DER of their OBJECT IDENTIFIER. */
const algorithmByOid = new Map<string, ParsedCsr["signatureAlgorithm"] | "rsa-pss">([
  ...(Object.keys(signatureAlgorithmOids) as ParsedCsr["signatureAlgorithm"][]).map((n) => [Buffer.from(oidDer(signatureAlgorithmOids[n])).toString("hex"), n] as const),
  [Buffer.from(oidDer(RSA_PSS_OID)).toString("hex"), "rsa-pss"],
]);

function signatureAlgorithmOf(csr: CertificationRequestParts, key: SubjectKeyDescription, field: string): ParsedCsr["signatureAlgorithm"] {
  const refuse = (rule: string): CaError => new CaError("unprocessable", `${field}: ${rule}`, { field });
  const name = algorithmByOid.get(Buffer.from(csr.signatureAlgorithmOid).toString("hex"));
  if (name === "rsa-pss") throw refuse("RSA-PSS signatures are not accepted");
  if (!name) throw refuse("CSR signature algorithm not accepted");
  const params = csr.signatureAlgorithmParameters;
  if (name === "sha256WithRSAEncryption") {
    if (params === "other") throw refuse("CSR signature algorithm parameters must be NULL");
    if (key.type !== "rsa") throw refuse("CSR signature algorithm does not match its key");
  } else {
    if (params !== "absent") throw refuse("CSR signature algorithm parameters must be absent");
    if (key.type !== "ec") throw refuse("CSR signature algorithm does not match its key");
  }
  return name;
}

/**
 * Parses a PEM string or DER bytes holding one PKCS#10 request, checks its key against `policy` and
 * verifies its signature (proof of possession). `field` names the request field in errors
 * (e.g. "requests[0].csr").
 *
 * Errors: garbled, truncated, trailing data, not v1, a subject string invalid for its type, a duplicate
 * attribute or extension → CaError("invalid-input", field); a key the profile refuses, an algorithm not
 * accepted, an unrecognized critical extension requested → CaError("unprocessable", field);
 * a signature that does not verify → CaError("unprocessable", field, "CSR signature does not verify").
 */
export function parseCsr(input: string | Uint8Array, field: string, policy: SubjectKeyPolicy = defaultSubjectKeyPolicy): ParsedCsr {
  const size = typeof input === "string" ? Buffer.byteLength(input) : input.byteLength;
  if (size > MAX_CSR_BYTES) throw garbled(field, `must be at most ${MAX_CSR_BYTES} bytes`);
  const der = typeof input === "string" ? (input.includes("-----BEGIN") ? pemToDer(input, field) : base64ToDer(input, field)) : input;
  if (der.byteLength === 0) throw garbled(field, "is empty");

  let csr: CertificationRequestParts;
  try {
    csr = readCertificationRequest(der);
  } catch (cause) {
    const trailing = cause instanceof TrailingBytesError;
    throw garbled(field, trailing ? "has data after the request" : "is not a DER PKCS#10 certification request (garbled or truncated)", cause);
  }
  if (csr.version !== 0) throw garbled(field, "must be a version 1 (0) certification request");
  // Issue 12: subject strings valid for their type, no duplicate or unknown critical extensions.
  const contents = checkCertificationRequestContents(der);
  if (contents) {
    if (contents.kind === "malformed") throw garbled(field, `is not accepted: ${contents.rule}`);
    throw new CaError("unprocessable", `${field}: ${contents.rule}`, { field });
  }

  // The key is checked before the signature: no verifying with a 16k-bit RSA key.
  const { keyObject, key } = acceptSubjectPublicKey(csr.spki, policy, field);
  const signatureAlgorithm = signatureAlgorithmOf(csr, key, field);

  let ok = false;
  if (csr.signatureUnusedBits === 0) {
    try {
      const hash = signatureAlgorithm === "ecdsa-with-SHA384" ? "sha384" : "sha256";
      // RSA: PKCS#1 v1.5 is node's default for an "rsa" key; ECDSA: DER ECDSA-Sig-Value (dsaEncoding "der").
      ok = verify(hash, csr.info, keyObject, csr.signature);
    } catch {
      ok = false; // e.g. an ECDSA signature that is not a DER SEQUENCE
    }
  }
  if (!ok) throw new CaError("unprocessable", "CSR signature does not verify", { field });

  const publicKey = canonicalSpki(keyObject);
  return Object.freeze({
    publicKey,
    publicKeySha256: sha256Hex(publicKey),
    key,
    signatureAlgorithm,
    // An empty Name is SEQUENCE {} = 30 00.
    subject: csr.subject.byteLength <= 2 ? undefined : new Uint8Array(csr.subject),
  });
}
