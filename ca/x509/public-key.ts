import { createPublicKey } from "node:crypto";
import { CaError } from "../errors.js";
import type { KeySpec } from "../types.js";

/**
 * What kind of key a DER SubjectPublicKeyInfo holds, in the CA's vocabulary (ca/types.ts KeySpec).
 * Used to check that a signer's key matches the profile and to label CA generations ("RSA-2048").
 */

const curveByNodeName: Readonly<Record<string, "P-256" | "P-384">> = { prime256v1: "P-256", secp384r1: "P-384" };
const rsaSizes = new Set([2048, 3072, 4096]);

/** The KeySpec of `spki`; CaError "unprocessable" for keys the CA does not support. */
export function publicKeySpec(spki: Uint8Array): KeySpec {
  let key;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  } catch (cause) {
    throw new CaError("invalid-input", "malformed SubjectPublicKeyInfo", { field: "publicKey", cause });
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "rsa" && details.modulusLength !== undefined && rsaSizes.has(details.modulusLength)) {
    return { type: "rsa", bits: details.modulusLength as 2048 | 3072 | 4096 };
  }
  const curve = key.asymmetricKeyType === "ec" ? curveByNodeName[details.namedCurve ?? ""] : undefined;
  if (curve !== undefined) return { type: "ec", curve };
  throw new CaError("unprocessable", "unsupported public key type or size", { field: "publicKey" });
}

/** "RSA-2048", "P-384", … */
export function keySpecLabel(spec: KeySpec): string {
  return spec.type === "rsa" ? `RSA-${spec.bits}` : spec.curve;
}

/** True when both describe the same key type and size. */
export function sameKeySpec(a: KeySpec, b: KeySpec): boolean {
  return keySpecLabel(a) === keySpecLabel(b);
}
