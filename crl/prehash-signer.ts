import { createHash } from "node:crypto";
import { signatureHash } from "../ca/profiles/algorithms.js";
import type { Signer } from "../ca/ports.js";

/**
 * A Signer that can also sign a digest computed here (docs/traps.md §3: "for a real HSM, send a digest
 * rather than 40 MB"). Pkcs11Signer implements it with CKM_RSA_PKCS over a DigestInfo (RSA) and
 * CKM_ECDSA over the hash (ECDSA). Optional: a plain Signer gets the whole TBS.
 */
export interface PrehashSigner extends Signer {
  /**
   * Signs a digest of the message made with the algorithm's hash (SHA-256 / SHA-384). Returns the same
   * bytes `sign(message)` would (PKCS#1 v1.5 is deterministic; ECDSA a DER ECDSA-Sig-Value).
   */
  signDigest(digest: Uint8Array): Promise<Uint8Array>;
}

export function canSignDigest(signer: Signer): signer is PrehashSigner {
  return typeof (signer as Partial<PrehashSigner>).signDigest === "function";
}

/** Signs `message` through the digest path when the signer has one, else through `sign`. */
export async function signLarge(signer: Signer, message: Uint8Array): Promise<Uint8Array> {
  if (!canSignDigest(signer)) return signer.sign(message);
  const digest = createHash(signatureHash[signer.algorithm]).update(message).digest();
  return signer.signDigest(new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength));
}
