import { createPublicKey } from "node:crypto";
import type { KeySpec } from "../ca/types.js";

/**
 * SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) from the public parts PKCS#11 gives us, built through
 * node:crypto's JWK import (RFC 7517/7518) so no hand-made DER is involved.
 */

export type EcCurve = "P-256" | "P-384";

/** CKA_EC_PARAMS: DER of the namedCurve OID (RFC 5480 §2.1.1.1). */
export const ecParamsDer: Readonly<Record<EcCurve, Uint8Array>> = Object.freeze({
  "P-256": Uint8Array.from(Buffer.from("06082a8648ce3d030107", "hex")), // secp256r1 1.2.840.10045.3.1.7
  "P-384": Uint8Array.from(Buffer.from("06052b81040022", "hex")), // secp384r1 1.3.132.0.34
});

const coordinateLength: Readonly<Record<EcCurve, number>> = { "P-256": 32, "P-384": 48 };

/** The curve a CKA_EC_PARAMS value names, or undefined for any other curve or encoding. */
export function curveOfParams(params: Uint8Array): EcCurve | undefined {
  const hex = Buffer.from(params).toString("hex");
  for (const [curve, der] of Object.entries(ecParamsDer) as Array<[EcCurve, Uint8Array]>) {
    if (Buffer.from(der).toString("hex") === hex) return curve;
  }
  return undefined;
}

const b64u = (b: Uint8Array): string => Buffer.from(b).toString("base64url");
function stripZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

/** SPKI DER of an RSA public key from CKA_MODULUS and CKA_PUBLIC_EXPONENT (big-endian). */
export function rsaSpki(modulus: Uint8Array, publicExponent: Uint8Array): Uint8Array {
  const key = createPublicKey({
    key: { kty: "RSA", n: b64u(stripZeros(modulus)), e: b64u(stripZeros(publicExponent)) },
    format: "jwk",
  });
  return new Uint8Array(key.export({ type: "spki", format: "der" }));
}

/**
 * The uncompressed point `04 || X || Y` from CKA_EC_POINT. PKCS#11 v2.40 §2.3.3 says the value is
 * DER `OCTET STRING` (SoftHSM does that); some tokens return the bare point. Both are accepted.
 */
export function uncompressedPoint(curve: EcCurve, value: Uint8Array): Uint8Array {
  const n = 1 + 2 * coordinateLength[curve];
  if (value.length === n && value[0] === 0x04) return value;
  // OCTET STRING, short or one-byte long length form (points of P-256/P-384 are < 256 bytes).
  if (value[0] === 0x04) {
    const lenByte = value[1] ?? 0;
    const [len, start] = lenByte === 0x81 ? [value[2] ?? 0, 3] : [lenByte, 2];
    const inner = value.subarray(start);
    if (len === n && inner.length === n && inner[0] === 0x04) return inner;
  }
  throw new Error(`unsupported CKA_EC_POINT encoding for ${curve} (${value.length} bytes)`);
}

/** SPKI DER of an EC public key from its curve and CKA_EC_POINT. */
export function ecSpki(curve: EcCurve, ecPoint: Uint8Array): Uint8Array {
  const point = uncompressedPoint(curve, ecPoint);
  const len = coordinateLength[curve];
  const key = createPublicKey({
    key: { kty: "EC", crv: curve, x: b64u(point.subarray(1, 1 + len)), y: b64u(point.subarray(1 + len)) },
    format: "jwk",
  });
  return new Uint8Array(key.export({ type: "spki", format: "der" }));
}

/** The KeySpec of a SPKI, or undefined for keys the CA does not use. */
export function keySpecOfSpki(spki: Uint8Array): KeySpec | undefined {
  const key = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "rsa") {
    const bits = d.modulusLength;
    return bits === 2048 || bits === 3072 || bits === 4096 ? { type: "rsa", bits } : undefined;
  }
  if (key.asymmetricKeyType === "ec") {
    if (d.namedCurve === "prime256v1") return { type: "ec", curve: "P-256" };
    if (d.namedCurve === "secp384r1") return { type: "ec", curve: "P-384" };
  }
  return undefined;
}
