import { createHash } from "node:crypto";

/**
 * SHA-256 (FIPS 180-4), the one digest the service keys things by: request bodies (Idempotency-Key),
 * session tokens and API keys (only the hash is stored), certificate and public-key fingerprints, the
 * audit chain's links, CRL partitions. Strings are hashed as UTF-8.
 */

/** Lower-case hex SHA-256 of `data` (strings as UTF-8): 64 characters. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The 32-octet SHA-256 of `data` (strings as UTF-8). */
export function sha256(data: string | Uint8Array): Uint8Array {
  const d = createHash("sha256").update(data).digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}
