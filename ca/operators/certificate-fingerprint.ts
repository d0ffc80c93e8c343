import { CaError } from "../errors.js";
import { sha256Hex } from "../sha256.js";

/**
 * SHA-256 fingerprints of client certificates, the key that binds an operator session to the terminal
 * certificate it was opened on (docs/api.md §4) and a terminal record to its certificate.
 * Canonical form: 64 lower-case hex digits, no colons. Node's TLS `fingerprint256` ("AB:CD:…") and
 * `X509Certificate.fingerprint256` are converted with `normalizeFingerprint`.
 */
export function certificateFingerprint(der: Uint8Array): string {
  return sha256Hex(der);
}

/** "AB:CD:…" or "abcd…" → "abcd…"; CaError("invalid-input") when it is not a SHA-256 fingerprint. */
export function normalizeFingerprint(text: string): string {
  const hex = text.replace(/:/g, "").toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new CaError("invalid-input", "not a SHA-256 certificate fingerprint", { field: "fingerprint" });
  return hex;
}
