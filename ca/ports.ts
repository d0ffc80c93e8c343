/**
 * Ports of the core: the narrow interfaces the CA needs from the outside world.
 * Adapters live in hsm/ (Signer) and db/ (stores); tests use in-memory doubles.
 */

/** Signature algorithms the CA signs with (RFC 4055, RFC 5758). */
export type SignatureAlgorithmName = "sha256WithRSAEncryption" | "ecdsa-with-SHA256" | "ecdsa-with-SHA384";

/** A private key that can sign: an HSM key (Pkcs11Signer) or a software key (MemorySigner, tests only). */
export interface Signer {
  /** The algorithm `sign` produces; fixed per key. */
  readonly algorithm: SignatureAlgorithmName;
  /** DER SubjectPublicKeyInfo of the key pair. */
  readonly publicKey: Uint8Array;
  /**
   * Signs `data` (the message, not a digest: the signer hashes it).
   * Returns the signature value as it goes into a BIT STRING: PKCS#1 v1.5 bytes for RSA,
   * a DER `ECDSA-Sig-Value` for ECDSA (RFC 5480 §2.2 / RFC 3279 §2.2.3).
   */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** Invariant 7: time is injected. */
export interface Clock {
  now(): Date;
}

/** Invariant 7: randomness is injected (serials, opaque subject ids, tokens). */
export interface Random {
  bytes(n: number): Uint8Array;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock fixed at (or moved to) a given instant, for tests. */
export class FixedClock implements Clock {
  constructor(private instant: Date) {}
  now(): Date {
    return new Date(this.instant.getTime());
  }
  set(instant: Date): void {
    this.instant = instant;
  }
  advance(ms: number): void {
    this.instant = new Date(this.instant.getTime() + ms);
  }
}
