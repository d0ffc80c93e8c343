import { checkPrimeSync, createPublicKey, generatePrimeSync, randomBytes } from "node:crypto";

/** Weak RSA moduli for the tests of ca/profiles/weak-keys.ts and the subject key policy (public keys only). */

/** The modulus of a base64 DER SubjectPublicKeyInfo. */
export function modulusOf(spkiBase64: string): bigint {
  const jwk = createPublicKey({ key: Buffer.from(spkiBase64, "base64"), format: "der", type: "spki" }).export({ format: "jwk" });
  return BigInt(`0x${Buffer.from(String(jwk.n), "base64url").toString("hex")}`);
}
/** A 2048-bit modulus n = p·q with q the first prime after p + gap (Fermat finds it in one round). */
export function closePrimeModulus(gap = 1n << 100n): bigint {
  const p = generatePrimeSync(1024, { bigint: true });
  let q = p + gap + 1n - ((p + gap) % 2n);
  while (!checkPrimeSync(q)) q += 2n;
  return p * q;
}

/** A 2048-bit modulus with the small prime factor `p` (even for p = 2). */
export function smallFactorModulus(p: bigint): bigint {
  for (;;) {
    const r = (BigInt(`0x${randomBytes(256).toString("hex")}`) / p) | 1n;
    const n = p * r;
    if (n.toString(2).length === 2048) return n;
  }
}
