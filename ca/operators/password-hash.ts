import { scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from "node:crypto";
import { CaError } from "../errors.js";
import { normalizePassword } from "./password-policy.js";
import type { Random } from "../ports.js";

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

/**
 * How many password hashes may run at once and wait in line, per process (issue 12 item 4).
 *
 * scrypt runs on libuv's thread pool (4 threads unless UV_THREADPOOL_SIZE says otherwise), which file
 * reads, DNS lookups and other crypto share. Sizing: `concurrency` 2 keeps half the pool free whatever
 * a login flood does, and caps the memory at 2 × 32 MiB (N = 2^15, r = 8); `maxQueued` 16 bounds the
 * wait of an honest login at about 16 / 2 × 60–100 ms ≈ 0.5–0.8 s; past it a login is refused at once
 * (503 with Retry-After) instead of piling up. No database connection is held while a hash runs or
 * waits (ca/operators/operator-auth.ts reads the operator first, then hashes, then writes).
 */
export interface HashLimits {
  readonly concurrency: number;
  readonly maxQueued: number;
}

export const defaultHashLimits: HashLimits = Object.freeze({ concurrency: 2, maxQueued: 16 });

/** Observes the hash queue (the api wires a prom-client gauge and counter). */
export interface HashQueueObserver {
  depth(running: number, queued: number): void;
  rejected(): void;
}

/** The CaError of a full hash queue: 503, try again in a second. */
export class PasswordHashBusy extends CaError {
  readonly retryAfterSeconds = 1;
  constructor() {
    super("unavailable", "too many logins in progress: try again in a moment");
  }
}

/** A PasswordHasher that runs at most `concurrency` hashes at once, with at most `maxQueued` waiting. */
export class BoundedPasswordHasher implements PasswordHasher {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  readonly limits: HashLimits;

  constructor(
    private readonly inner: PasswordHasher,
    limits: Partial<HashLimits> = {},
    private readonly observer?: HashQueueObserver,
  ) {
    this.limits = Object.freeze({ ...defaultHashLimits, ...limits });
    if (!Number.isInteger(this.limits.concurrency) || this.limits.concurrency < 1 || !Number.isInteger(this.limits.maxQueued) || this.limits.maxQueued < 0) {
      throw new CaError("invalid-input", "hash limits: concurrency ≥ 1 and maxQueued ≥ 0, whole numbers", { field: "hashLimits" });
    }
  }

  hash(password: string): Promise<string> {
    return this.run(() => this.inner.hash(password));
  }

  verify(password: string, encoded: string): Promise<boolean> {
    return this.run(() => this.inner.verify(password, encoded));
  }

  /** Hashes running and waiting now. */
  get load(): { running: number; queued: number } {
    return { running: this.running, queued: this.waiting.length };
  }

  private async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limits.concurrency) {
      if (this.waiting.length >= this.limits.maxQueued) {
        this.observer?.rejected();
        throw new PasswordHashBusy();
      }
      // The slot is handed over by the finishing hash (running is not decremented in between).
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    this.observer?.depth(this.running, this.waiting.length);
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
      this.observer?.depth(this.running, this.waiting.length);
    }
  }
}
