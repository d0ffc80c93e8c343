/**
 * A pool of distinct RSA-2048 card key pairs and their PKCS#10 requests for the issuance benchmark,
 * made once and cached under ./var/bench/card-csrs/.
 *
 * Why not `generateKeyPair("rsa", 2048)` per card: on this machine it takes about 200 ms per key, so the
 * ~10,000 keys a 30 s run consumes would take over 30 minutes to make. Instead the pool draws a set of
 * random 1024-bit primes (about 50 ms each; Node's generatePrime sets the top two bits, so every product
 * is exactly 2048 bits) and uses each unordered pair {p, q} once: M primes give M(M-1)/2 distinct moduli
 * n = p·q with e = 65537 (RFC 8017 §3.1), which is all the CA can see or check. The keys share factors
 * between them, so they are for benchmarking only: never use them anywhere else.
 *
 * The CSRs are built by hand (RFC 2986 §4: version 0, a subject, the SPKI, empty attributes) and signed
 * with sha256WithRSAEncryption through node:crypto.
 */
import { createPrivateKey, createPublicKey, generatePrimeSync, sign } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { derBitString, derInteger, derNull, derSequence, derSet, derTlv } from "../ca/x509/der.js";
import { pem } from "../ca/x509/pem.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** Where the pool is cached (git-ignored). */
export const cardCsrPoolDir = join(repoRoot, "var/bench/card-csrs");
const CACHE_VERSION = 1;

interface Cache {
  version: number;
  /** Hex 1024-bit primes, in the order they were drawn. */
  primes: string[];
  /** PEM CSRs; CSR k uses the k-th pair of pairOrder(primes.length). */
  csrs: string[];
}

const E = 65537n;

const b64url = (n: bigint): string => {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Buffer.from(hex, "hex").toString("base64url");
};

/** x⁻¹ mod m (extended Euclid); m > 1 and gcd(x, m) = 1. */
function modInverse(x: bigint, m: bigint): bigint {
  let [a, b, u, v] = [((x % m) + m) % m, m, 1n, 0n];
  while (b !== 0n) {
    const t = a / b;
    [a, b] = [b, a - t * b];
    [u, v] = [v, u - t * v];
  }
  if (a !== 1n) throw new Error("not invertible");
  return ((u % m) + m) % m;
}

/** The RSA private key of n = p·q, e = 65537, as a JWK (RFC 7518 §6.3.2). */
function rsaJwk(p: bigint, q: bigint): Record<string, string> {
  const [hi, lo] = p > q ? [p, q] : [q, p];
  const n = hi * lo;
  const phi = (hi - 1n) * (lo - 1n);
  const d = modInverse(E, phi);
  return { kty: "RSA", n: b64url(n), e: b64url(E), d: b64url(d), p: b64url(hi), q: b64url(lo), dp: b64url(d % (hi - 1n)), dq: b64url(d % (lo - 1n)), qi: b64url(modInverse(lo, hi)) };
}

const OID_CN = Uint8Array.from([0x06, 0x03, 0x55, 0x04, 0x03]);
const OID_C = Uint8Array.from([0x06, 0x03, 0x55, 0x04, 0x06]);
const OID_SHA256_RSA = Uint8Array.from([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]);

/** A PKCS#10 request for the key, subject C=JP, CN=bench-card-<index> (the CA ignores the subject). */
function buildCsr(jwk: Record<string, string>, index: number): string {
  const privateKey = createPrivateKey({ key: jwk, format: "jwk" });
  const spki = new Uint8Array(createPublicKey(privateKey).export({ type: "spki", format: "der" }));
  const rdn = (oid: Uint8Array, value: Uint8Array): Uint8Array => derSet([derSequence(oid, value)]);
  const subject = derSequence(rdn(OID_C, derTlv(0x13, Buffer.from("JP"))), rdn(OID_CN, derTlv(0x0c, Buffer.from(`bench-card-${index}`))));
  const info = derSequence(derInteger(0n), subject, spki, Uint8Array.from([0xa0, 0x00]));
  const signature = new Uint8Array(sign("sha256", info, privateKey));
  return pem(derSequence(info, derSequence(OID_SHA256_RSA, derNull()), derBitString(signature)), "CERTIFICATE REQUEST");
}

/** The k-th unordered pair (i < j) when pairs are listed by j, then i: (0,1), (0,2), (1,2), (0,3)… */
function pairAt(k: number): [number, number] {
  let j = 1;
  while ((j * (j + 1)) / 2 <= k) j++;
  return [k - (j * (j - 1)) / 2, j];
}

/** Primes needed for `count` pairs. */
function primesFor(count: number): number {
  let m = 2;
  while ((m * (m - 1)) / 2 < count) m++;
  return m;
}

function load(cacheFile: string): Cache {
  if (existsSync(cacheFile)) {
    try {
      const c = JSON.parse(readFileSync(cacheFile, "utf8")) as Cache;
      if (c.version === CACHE_VERSION && Array.isArray(c.primes) && Array.isArray(c.csrs)) return c;
    } catch {
      // a torn or old cache: start again
    }
  }
  return { version: CACHE_VERSION, primes: [], csrs: [] };
}

function save(cache: Cache, cacheFile: string): void {
  mkdirSync(dirname(cacheFile), { recursive: true });
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(cache));
  renameSync(tmp, cacheFile);
}

/**
 * At least `count` PEM CSRs of distinct RSA-2048 keys (cached; extended when the cache is short).
 * @param log progress lines (only when something has to be made)
 * @param dir cache directory (default ./var/bench/card-csrs)
 */
export function cardCsrPool(count: number, log: (line: string) => void = () => undefined, dir: string = cardCsrPoolDir): string[] {
  const cacheFile = join(dir, "rsa2048.json");
  const cache = load(cacheFile);
  if (cache.csrs.length >= count) return cache.csrs;
  const started = performance.now();
  const needPrimes = primesFor(count);
  if (cache.primes.length < needPrimes) {
    log(`card key pool: drawing ${needPrimes - cache.primes.length} 1024-bit primes`);
    while (cache.primes.length < needPrimes) {
      const p = generatePrimeSync(1024, { bigint: true });
      if (p % E === 1n) continue; // e must be invertible mod p-1
      cache.primes.push(p.toString(16));
    }
  }
  const primes = cache.primes.map((h) => BigInt(`0x${h}`));
  log(`card key pool: signing ${count - cache.csrs.length} CSRs (cached in ${cacheFile})`);
  for (let k = cache.csrs.length; k < count; k++) {
    const [i, j] = pairAt(k);
    const n = primes[i]! * primes[j]!;
    if (n.toString(2).length !== 2048) throw new Error("card key pool: a modulus is not 2048 bits");
    cache.csrs.push(buildCsr(rsaJwk(primes[i]!, primes[j]!), k));
  }
  save(cache, cacheFile);
  log(`card key pool: ${cache.csrs.length} CSRs ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return cache.csrs;
}
