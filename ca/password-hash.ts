import { scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from "node:crypto";
import { CaError } from "./errors.js";
import { normalizePassword } from "./password-policy.js";
import type { Random } from "./ports.js";

/**
 * Password hashing with scrypt (RFC 7914) from node:crypto, so no native add-on is needed.
 *
 * Stored form: `scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>`, all parameters in the string so they
 * can be raised later without breaking old hashes (`needsRehash`). Defaults N = 2^15, r = 8, p = 1
 * (OWASP Password Storage Cheat Sheet's scrypt floor; about 32 MiB and ~50–100 ms per hash), 16-byte
 * salt from the injected Random (invariant 7), 32-byte output.
 *
 * The password is NFKC-normalised first (see password-policy.ts). Verification compares with
 * `timingSafeEqual`, and refuses parameters outside sane bounds so a tampered row cannot make the
 * server burn memory.
 */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

export const defaultScryptParams: ScryptParams = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });

const SALT_BYTES = 16;
const KEY_BYTES = 32;
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

/** What the operator service needs of a password hasher (tests inject cheaper parameters). */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, encoded: string): Promise<boolean>;
}

/** The scrypt PasswordHasher. */
export class ScryptPasswordHasher implements PasswordHasher {
  constructor(
    private readonly random: Random,
    private readonly params: ScryptParams = defaultScryptParams,
  ) {
    checkParams(params);
  }

  async hash(password: string): Promise<string> {
    const salt = this.random.bytes(SALT_BYTES);
    if (salt.length !== SALT_BYTES) throw new CaError("internal", "Random returned the wrong number of bytes");
    const { N, r, p } = this.params;
    const key = await derive(password, salt, this.params);
    return ["scrypt", N, r, p, Buffer.from(salt).toString("base64"), key.toString("base64")].join("$");
  }

  /** True when `password` matches `encoded`; false for a mismatch or a malformed/unsupported hash. */
  async verify(password: string, encoded: string): Promise<boolean> {
    const parsed = parseEncoded(encoded);
    if (parsed === undefined) return false;
    const key = await derive(password, parsed.salt, parsed.params, parsed.hash.length);
    return key.length === parsed.hash.length && timingSafeEqual(key, parsed.hash);
  }

  /** True when `encoded` was made with other parameters than this hasher's (rehash on next login). */
  needsRehash(encoded: string): boolean {
    const parsed = parseEncoded(encoded);
    return parsed === undefined || parsed.params.N !== this.params.N || parsed.params.r !== this.params.r || parsed.params.p !== this.params.p;
  }
}

function checkParams({ N, r, p }: ScryptParams): void {
  const isPow2 = Number.isInteger(N) && N >= 2 && N <= MAX_N && (N & (N - 1)) === 0;
  if (!isPow2 || !Number.isInteger(r) || r < 1 || r > MAX_R || !Number.isInteger(p) || p < 1 || p > MAX_P) {
    throw new CaError("invalid-input", "scrypt parameters out of range", { field: "scrypt" });
  }
}

function derive(password: string, salt: Uint8Array, params: ScryptParams, keyBytes = KEY_BYTES): Promise<Buffer> {
  // scrypt needs 128·N·r bytes (plus p blocks); node's default maxmem is 32 MiB, exactly N=2^15 r=8,
  // which it refuses: give headroom.
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scryptCallback(normalizePassword(password), salt, keyBytes, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function parseEncoded(encoded: string): { params: ScryptParams; salt: Buffer; hash: Buffer } | undefined {
  const parts = encoded.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return undefined;
  const [N, r, p] = parts.slice(1, 4).map((x) => (/^[0-9]{1,8}$/.test(x ?? "") ? Number(x) : NaN)) as [number, number, number];
  const params = { N, r, p };
  try {
    checkParams(params);
  } catch {
    return undefined;
  }
  const salt = Buffer.from(parts[4] ?? "", "base64");
  const hash = Buffer.from(parts[5] ?? "", "base64");
  if (salt.length < 8 || hash.length < 16 || hash.length > 64) return undefined;
  return { params, salt, hash };
}
