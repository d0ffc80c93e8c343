import { createHash } from "node:crypto";
import type * as graphene from "graphene-pk11";
import pkcs11js from "pkcs11js";
import { signatureHash } from "../ca/profiles/algorithms.js";
import { CaError } from "../ca/errors.js";
import type { SignatureAlgorithmName, Signer } from "../ca/ports.js";
import type { KeySpec } from "../ca/types.js";
import { ecdsaRawToDer } from "./ecdsa-signature.js";
import { requirePrivateKey, type KeyRef } from "./key-lookup.js";
import type { TokenSession, TokenSessions } from "./token-sessions.js";

/** Sign-time observations (a subset of HsmMetrics). */
export interface SignMetrics {
  observeSign(algorithm: string, seconds: number, ok: boolean): void;
}

/**
 * PKCS#11 mechanism per algorithm. RSA: CKM_SHA256_RSA_PKCS hashes inside the token (PKCS#11 v2.40
 * §2.1.10). ECDSA: we hash in Node and use CKM_ECDSA over the digest (§2.3.6), because tokens differ
 * in which CKM_ECDSA_SHAxxx they offer, and a digest is what a network HSM should receive.
 */
const mechanisms: Readonly<Record<SignatureAlgorithmName, "SHA256_RSA_PKCS" | "ECDSA">> = {
  sha256WithRSAEncryption: "SHA256_RSA_PKCS",
  "ecdsa-with-SHA256": "ECDSA",
  "ecdsa-with-SHA384": "ECDSA",
};

/**
 * Whether `algorithm` fits the key: RSA keys sign sha256WithRSAEncryption; P-256 keys
 * ecdsa-with-SHA256 and P-384 keys ecdsa-with-SHA384 (RFC 5480 §4 pairs curve and hash, and the
 * CA/Browser Forum BR §7.1.3.2 permits only these pairs).
 */
export function algorithmFitsKey(algorithm: SignatureAlgorithmName, spec: KeySpec): boolean {
  if (spec.type === "rsa") return algorithm === "sha256WithRSAEncryption";
  return algorithm === (spec.curve === "P-256" ? "ecdsa-with-SHA256" : "ecdsa-with-SHA384");
}

/** DigestInfo prefix of SHA-256 (RFC 8017 §9.2 note 1): SEQUENCE { AlgorithmIdentifier sha256 NULL, OCTET STRING (32) }. */
const sha256DigestInfoPrefix = Buffer.from("3031300d060960864801650304020105000420", "hex");

/** One C_SignInit + async C_Sign on the libuv thread pool, so the event loop never waits for the token. */
function signOnce(session: graphene.Session, mechanism: string, key: graphene.PrivateKey, input: Buffer): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const done = (err: Error | null, signature: Buffer): void => (err ? reject(err) : resolve(signature));
    // C_SignInit is synchronous (and cheap); a throw here rejects the promise.
    const operation = session.createSign(mechanism, key);
    if (input.length > 0) {
      operation.once(input, done);
    } else {
      // pkcs11js passes an empty buffer as NULL and C_Sign answers CKR_ARGUMENTS_BAD; a multi-part
      // operation with no C_SignUpdate signs the empty message (PKCS#11 v2.40 §5.12).
      session.lib.C_SignFinal(session.handle, Buffer.alloc(1024), done);
    }
  });
}

/**
 * A {@link Signer} whose private key lives in a PKCS#11 token. Created by `Pkcs11Hsm.signer()`.
 * Each signature takes a session of its own from the pool (a session holds one operation at a time);
 * the key handle is found once per session and cached; session, login and library failures are
 * recovered by {@link TokenSessions} (bounded retries, then CaError("unavailable")).
 */
export class Pkcs11Signer implements Signer {
  private readonly mechanism: "SHA256_RSA_PKCS" | "ECDSA";
  /**
   * RSA: whether the token offers CKM_SHA256_RSA_PKCS (asked once, C_GetMechanismList). opencryptoki
   * 3.8.1's software token does not (docs/hsm-vendors.md §"Mechanisms"): then the message is hashed here
   * and signed as a DigestInfo with CKM_RSA_PKCS, which gives the same PKCS#1 v1.5 signature.
   */
  private hashesInToken: boolean | undefined;

  /** @internal use Pkcs11Hsm.signer() */
  constructor(
    private readonly sessions: TokenSessions,
    private readonly key: KeyRef,
    /** The key's RFC 7512 URI, as given to `Pkcs11Hsm.signer()`. */
    readonly keyUri: string,
    readonly algorithm: SignatureAlgorithmName,
    readonly publicKey: Uint8Array,
    private readonly metrics?: SignMetrics,
  ) {
    this.mechanism = mechanisms[algorithm];
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    // RSA: the token hashes the message (when it can); ECDSA: the token signs our digest (see `mechanisms`).
    if (this.mechanism === "ECDSA" || (this.hashesInToken ??= await this.tokenOffers(pkcs11js.CKM_SHA256_RSA_PKCS)) === false) {
      return this.signDigest(createHash(signatureHash[this.algorithm]).update(data).digest());
    }
    return this.signInput(this.mechanism, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  /** Whether the token lists `mechanism` (C_GetMechanismList of its slot). */
  private tokenOffers(mechanism: number): Promise<boolean> {
    return this.sessions.run("mechanism list", (s) => s.session.lib.C_GetMechanismList(s.session.slot.handle).includes(mechanism));
  }

  /**
   * Signs a digest made with the algorithm's hash (crl/prehash-signer.ts PrehashSigner): large
   * messages such as a partition CRL (tens of MB) never travel to the token (docs/traps.md §3 "CRL").
   * RSA: CKM_RSA_PKCS over the DER DigestInfo (PKCS#11 v2.40 §2.1.6, RFC 8017 §9.2), which yields the
   * same PKCS#1 v1.5 signature as CKM_SHA256_RSA_PKCS over the message. ECDSA: CKM_ECDSA as `sign`.
   */
  async signDigest(digest: Uint8Array): Promise<Uint8Array> {
    const hash = signatureHash[this.algorithm];
    if (digest.length !== (hash === "sha256" ? 32 : 48)) throw new CaError("invalid-input", `a ${hash} digest is ${hash === "sha256" ? 32 : 48} octets`);
    const bytes = Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength);
    return this.mechanism === "ECDSA"
      ? this.signInput("ECDSA", bytes)
      : this.signInput("RSA_PKCS", Buffer.concat([sha256DigestInfoPrefix, bytes]));
  }

  private async signInput(mechanism: "SHA256_RSA_PKCS" | "ECDSA" | "RSA_PKCS", input: Buffer): Promise<Uint8Array> {
    const started = process.hrtime.bigint();
    let ok = false;
    try {
      const raw = await this.sessions.run("sign", (s) => signOnce(s.session, mechanism, this.keyIn(s), input));
      const signature = mechanism === "ECDSA" ? ecdsaRawToDer(raw) : new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
      ok = true;
      return signature;
    } finally {
      this.metrics?.observeSign(this.algorithm, Number(process.hrtime.bigint() - started) / 1e9, ok);
    }
  }

  /** The key handle in this session, found on first use (C_FindObjects) and cached per session. */
  private keyIn(s: TokenSession): graphene.PrivateKey {
    let key = s.objects.get(this.key.cacheKey);
    if (!key) {
      key = requirePrivateKey(s.session, this.key);
      s.objects.set(this.key.cacheKey, key);
    }
    return key;
  }
}

/** Fails fast when a key and an algorithm do not go together. */
export function assertAlgorithmFits(algorithm: SignatureAlgorithmName, spec: KeySpec | undefined, keyUri: string): void {
  if (!(algorithm in mechanisms)) {
    throw new CaError("invalid-input", `unsupported signature algorithm ${String(algorithm)}`, { field: "algorithm" });
  }
  if (!spec || !algorithmFitsKey(algorithm, spec)) {
    const what = spec ? (spec.type === "rsa" ? `RSA-${spec.bits}` : spec.curve) : "unsupported";
    throw new CaError("invalid-input", `key ${keyUri} (${what}) cannot sign ${algorithm}`, { field: "algorithm" });
  }
}
