import { DerReadError, elementContent, readChildren, readWhole } from "./der-reader.js";
import { derBitString, derNull, derSequence, derTlv, DerTag } from "./der.js";
import { oidDer } from "./general-names.js";

/**
 * SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) of the two key types cards have, read and written directly:
 * each issuance imports two card keys and writes their canonical SPKI, and node:crypto's DER import and
 * SPKI export go through OpenSSL's decoder and encoder (~120 µs and ~160 µs per RSA-2048 key here),
 * where a JWK import and export take ~8 µs and ~1 µs. So the key is read here and handed to node:crypto
 * as a JWK; anything but the two plain forms below is left to node:crypto's own DER import.
 *
 * - RSA (RFC 8017 A.1.1): rsaEncryption with NULL parameters, RSAPublicKey { n, e } as DER INTEGERs
 *   (positive, minimal: what OpenSSL's DER reader accepts).
 * - EC (RFC 5480): id-ecPublicKey with a named curve P-256 or P-384, an uncompressed point.
 *
 * `rsaSpki` / `ecSpki` write the canonical DER node:crypto exports (test/unit/ca/x509/subject-public-key.test.ts
 * proves them byte-identical over many keys).
 */
export type PlainPublicKey =
  | { readonly kind: "rsa"; readonly n: Uint8Array; readonly e: Uint8Array }
  | { readonly kind: "ec"; readonly curve: "P-256" | "P-384"; readonly x: Uint8Array; readonly y: Uint8Array };

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const RSA_ENCRYPTION = oidDer("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY = oidDer("1.2.840.10045.2.1");
const CURVES = { "P-256": { oid: oidDer("1.2.840.10045.3.1.7"), size: 32 }, "P-384": { oid: oidDer("1.3.132.0.34"), size: 48 } } as const;
const curveByOid = new Map(Object.entries(CURVES).map(([name, c]) => [hex(c.oid), { name: name as "P-256" | "P-384", size: c.size }]));
// Compared per call, so made once.
const RSA_ENCRYPTION_HEX = hex(RSA_ENCRYPTION);
const EC_PUBLIC_KEY_HEX = hex(EC_PUBLIC_KEY);

/** A DER INTEGER's content as an unsigned magnitude; undefined unless positive and minimal. */
function positiveInteger(content: Uint8Array): Uint8Array | undefined {
  if (content.length === 0 || content[0]! >= 0x80) return undefined;
  if (content[0] === 0) return content.length > 1 && content[1]! >= 0x80 ? content.subarray(1) : undefined;
  return content;
}

/**
 * The key of a DER SubjectPublicKeyInfo when it has one of the two plain forms; undefined for any other
 * well-formed SPKI (other algorithms, parameters or point forms: node:crypto reads those).
 * @throws DerReadError when the outer structure is not DER
 */
export function readPlainPublicKey(spki: Uint8Array): PlainPublicKey | undefined {
  const outer = readWhole(spki);
  const [alg, bits, extra] = readChildren(spki, outer);
  if (outer.tag !== 0x30 || alg?.tag !== 0x30 || bits?.tag !== DerTag.bitString || extra !== undefined) return undefined;
  const [oid, params, algExtra] = readChildren(spki, alg);
  if (oid?.tag !== DerTag.oid || params === undefined || algExtra !== undefined) return undefined;
  const content = elementContent(spki, bits);
  if (content[0] !== 0) return undefined; // unused bits
  const key = content.subarray(1);
  const oidHex = hex(spki.subarray(oid.start, oid.end));
  const paramsBytes = spki.subarray(params.start, params.end);
  if (oidHex === RSA_ENCRYPTION_HEX) {
    if (hex(paramsBytes) !== "0500") return undefined;
    try {
      const seq = readWhole(key);
      const [n, e, more] = readChildren(key, seq);
      if (seq.tag !== 0x30 || n?.tag !== DerTag.integer || e?.tag !== DerTag.integer || more !== undefined) return undefined;
      const nn = positiveInteger(elementContent(key, n));
      const ee = positiveInteger(elementContent(key, e));
      return nn && ee ? { kind: "rsa", n: nn, e: ee } : undefined;
    } catch (err) {
      if (err instanceof DerReadError) return undefined;
      throw err;
    }
  }
  if (oidHex === EC_PUBLIC_KEY_HEX) {
    const curve = curveByOid.get(hex(paramsBytes));
    if (curve === undefined || key.length !== 1 + 2 * curve.size || key[0] !== 0x04) return undefined;
    return { kind: "ec", curve: curve.name, x: key.subarray(1, 1 + curve.size), y: key.subarray(1 + curve.size) };
  }
  return undefined;
}

/** The JWK node:crypto imports for a plain key. */
export function plainKeyJwk(k: PlainPublicKey): { kty: "RSA"; n: string; e: string } | { kty: "EC"; crv: string; x: string; y: string } {
  const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64url");
  return k.kind === "rsa" ? { kty: "RSA", n: b64(k.n), e: b64(k.e) } : { kty: "EC", crv: k.curve, x: b64(k.x), y: b64(k.y) };
}

/** DER INTEGER of an unsigned magnitude (a leading zero when the top bit is set). */
const unsignedInteger = (magnitude: Uint8Array): Uint8Array => derTlv(DerTag.integer, magnitude[0]! >= 0x80 ? new Uint8Array([0, ...magnitude]) : magnitude);

/** Canonical SPKI of an RSA key: rsaEncryption, NULL, RSAPublicKey { n, e }. */
export function rsaSpki(n: Uint8Array, e: Uint8Array): Uint8Array {
  return derSequence(derSequence(RSA_ENCRYPTION, derNull()), derBitString(derSequence(unsignedInteger(n), unsignedInteger(e))));
}

/** Canonical SPKI of an EC key: id-ecPublicKey, the named curve, the uncompressed point. */
export function ecSpki(curve: "P-256" | "P-384", x: Uint8Array, y: Uint8Array): Uint8Array {
  return derSequence(derSequence(EC_PUBLIC_KEY, CURVES[curve].oid), derBitString(new Uint8Array([0x04, ...x, ...y])));
}
