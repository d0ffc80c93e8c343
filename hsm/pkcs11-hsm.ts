import * as graphene from "graphene-pk11";
import { CaError } from "../ca/errors.js";
import type { SignatureAlgorithmName } from "../ca/ports.js";
import type { KeySpec } from "../ca/types.js";
import { assertLabel, findKey, generateKeyPair, keyProtection, type KeyProtection } from "./key-generator.js";
import { keyRefFromUri, readSpki, requirePrivateKey } from "./key-lookup.js";
import { Pkcs11StateError } from "./pkcs11-error.js";
import { Pkcs11Module } from "./pkcs11-module.js";
import { assertAlgorithmFits, Pkcs11Signer } from "./pkcs11-signer.js";
import { privateKeyUri } from "./pkcs11-uri.js";
import { keySpecOfSpki } from "./public-key-info.js";
import { TokenSessions } from "./token-sessions.js";

/** What the HSM layer reports to monitoring (api/metrics.ts implements it with prom-client). */
export interface HsmMetrics {
  observeSign(algorithm: string, seconds: number, ok: boolean): void;
  setSessionsInUse(n: number): void;
  /** kind: session | login | object | module | device | pin | token-missing | other */
  incError(kind: string): void;
}

export interface Pkcs11Options {
  /** Path of the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so. */
  modulePath: string;
  /** CKA_LABEL of the token (found by label, never by slot number). */
  tokenLabel: string;
  /** User PIN. Kept in memory only; never logged or put in a message. */
  pin: string;
  /** Logged-in sessions kept at most (= signatures in flight). Default 4, the libuv pool size. */
  poolSize?: number;
  metrics?: HsmMetrics;
  /** Attempts per operation including the first, for recovery. Default 3. */
  maxAttempts?: number;
  /** Fail an operation that waited this long for a free session. Default: wait. */
  acquireTimeoutMs?: number;
}

/** Key attributes a key ceremony checks (PKCS#11 v2.40 §4.9, §4.8). */
export interface KeyAttributes {
  token: boolean;
  private: boolean;
  sensitive: boolean;
  extractable: boolean;
  alwaysSensitive: boolean;
  neverExtractable: boolean;
  sign: boolean;
  decrypt: boolean;
  unwrap: boolean;
  derive: boolean;
}

export interface HsmHealth {
  ok: boolean;
  detail: string;
  sessionsInUse: number;
  sessionsOpen: number;
}

/**
 * The HSM as the rest of the service sees it: one PKCS#11 token, a pool of logged-in sessions,
 * key generation for ceremonies, signers for CA keys, a health probe.
 *
 * One instance per token and process. `open` fails fast on what retrying cannot fix (the library
 * does not load, the token refuses the PIN); a token that is not there (yet) is reported by
 * `health()` and makes operations fail with CaError("unavailable").
 */
export class Pkcs11Hsm {
  private closed = false;

  private constructor(
    private readonly module: Pkcs11Module,
    private readonly sessions: TokenSessions,
    private readonly tokenLabel: string,
    private readonly metrics: HsmMetrics | undefined,
  ) {}

  static async open(opts: Pkcs11Options): Promise<Pkcs11Hsm> {
    const poolSize = opts.poolSize ?? 4;
    const maxAttempts = opts.maxAttempts ?? 3;
    if (!opts.modulePath) throw new CaError("invalid-input", "PKCS#11 module path is empty", { field: "modulePath" });
    if (!opts.tokenLabel || opts.tokenLabel.length > 32) {
      // CK_TOKEN_INFO.label is 32 bytes, blank padded (PKCS#11 v2.40 §3.2).
      throw new CaError("invalid-input", "token label must be 1-32 characters", { field: "tokenLabel" });
    }
    if (typeof opts.pin !== "string" || opts.pin.length === 0) {
      throw new CaError("invalid-input", "PIN is empty", { field: "pin" });
    }
    if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 256) {
      throw new CaError("invalid-input", "poolSize must be an integer 1-256", { field: "poolSize" });
    }
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 10) {
      throw new CaError("invalid-input", "maxAttempts must be an integer 1-10", { field: "maxAttempts" });
    }
    const module = Pkcs11Module.load(opts.modulePath);
    module.initialize();
    const sessions = new TokenSessions(module, opts.tokenLabel, opts.pin, {
      poolSize,
      maxAttempts,
      ...(opts.acquireTimeoutMs !== undefined ? { acquireTimeoutMs: opts.acquireTimeoutMs } : {}),
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
    });
    const hsm = new Pkcs11Hsm(module, sessions, opts.tokenLabel, opts.metrics);
    // Log in once now so a wrong PIN stops start-up instead of surfacing at the first signature.
    try {
      await sessions.probe();
    } catch (e) {
      if (e instanceof Pkcs11StateError && e.failure === "pin") {
        await hsm.close();
        throw e;
      }
    }
    return hsm;
  }

  /**
   * Generates a key pair in the token (see key-generator.ts for the template).
   * @returns the private key's URI (`pkcs11:token=…;object=<label>;type=private`) and the SPKI DER.
   * @throws CaError("conflict") if an object with this label exists.
   */
  async generateKey(label: string, spec: KeySpec): Promise<{ uri: string; publicKey: Uint8Array }> {
    assertLabel(label);
    const pair = await this.sessions.run("key generation", (s) => generateKeyPair(s.session, label, spec));
    return { uri: privateKeyUri(this.tokenLabel, label), publicKey: pair.publicKey };
  }

  /**
   * CKA_MODIFIABLE, CKA_COPYABLE and CKA_DESTROYABLE of the private and public key under `label`, as the
   * token reports them (null: unsupported) — for the ceremony's record and the tests (issue 12).
   * @throws CaError("not-found") when there is no such key pair.
   */
  async keyProtection(label: string): Promise<{ privateKey: KeyProtection; publicKey: KeyProtection }> {
    assertLabel(label);
    return this.sessions.run("key lookup", (s) => {
      const one = (cls: number): KeyProtection => {
        const found = s.session.find({ class: cls, label });
        if (found.length !== 1) throw new CaError("not-found", `no single key "${label}" of that class in the token`);
        return keyProtection(found.items(0));
      };
      return { privateKey: one(graphene.ObjectClass.PRIVATE_KEY), publicKey: one(graphene.ObjectClass.PUBLIC_KEY) };
    });
  }

  /** Whether a private key with this label exists in the token. */
  async hasKey(label: string): Promise<boolean> {
    return (await this.findKey(label)) !== undefined;
  }

  /** The key pair under `label` (URI and SPKI), or undefined: lets a ceremony resume idempotently. */
  async findKey(label: string): Promise<{ uri: string; publicKey: Uint8Array } | undefined> {
    assertLabel(label);
    const found = await this.sessions.run("key lookup", (s) => findKey(s.session, label));
    return found && { uri: privateKeyUri(this.tokenLabel, label), publicKey: found.publicKey };
  }

  /** SPKI DER of the key pair the URI names. @throws CaError("not-found") */
  async publicKey(uri: string): Promise<Uint8Array> {
    const ref = keyRefFromUri(uri, this.tokenLabel);
    return this.sessions.run("public key lookup", (s) => readSpki(s.session, ref));
  }

  /**
   * A Signer for the private key the URI names.
   * @throws CaError("not-found") if the key is absent, CaError("invalid-input") if `algorithm` does
   * not fit the key (P-256 ↔ ecdsa-with-SHA256, P-384 ↔ ecdsa-with-SHA384, RSA ↔ sha256WithRSAEncryption).
   */
  async signer(uri: string, algorithm: SignatureAlgorithmName): Promise<Pkcs11Signer> {
    const ref = keyRefFromUri(uri, this.tokenLabel);
    const spki = await this.sessions.run("key lookup", (s) => {
      s.objects.set(ref.cacheKey, requirePrivateKey(s.session, ref));
      return readSpki(s.session, ref);
    });
    assertAlgorithmFits(algorithm, keySpecOfSpki(spki), ref.display);
    return new Pkcs11Signer(this.sessions, ref, uri, algorithm, spki, this.metrics);
  }

  /** Security attributes of the private key, as the token reports them. @throws CaError("not-found") */
  async keyAttributes(uri: string): Promise<KeyAttributes> {
    const ref = keyRefFromUri(uri, this.tokenLabel);
    return this.sessions.run("key attributes", (s) => {
      const a = requirePrivateKey(s.session, ref).getAttribute({
        token: null,
        private: null,
        sensitive: null,
        extractable: null,
        alwaysSensitive: null,
        neverExtractable: null,
        sign: null,
        decrypt: null,
        unwrap: null,
        derive: null,
      });
      return {
        token: a.token === true,
        private: a.private === true,
        sensitive: a.sensitive === true,
        extractable: a.extractable === true,
        alwaysSensitive: a.alwaysSensitive === true,
        neverExtractable: a.neverExtractable === true,
        sign: a.sign === true,
        decrypt: a.decrypt === true,
        unwrap: a.unwrap === true,
        derive: a.derive === true,
      };
    });
  }

  /**
   * Probes the token with a real logged-in session (recovering like any operation would).
   * Never throws; `detail` names the token, never the PIN.
   */
  async health(): Promise<HsmHealth> {
    const stats = () => ({ sessionsInUse: this.sessions.sessionsInUse, sessionsOpen: this.sessions.sessionsOpen });
    if (this.closed) return { ok: false, detail: "HSM connection closed", ...stats() };
    try {
      const detail = await this.sessions.probe();
      return { ok: true, detail, ...stats() };
    } catch (e) {
      return { ok: false, detail: e instanceof Error ? e.message : String(e), ...stats() };
    }
  }

  /** Waits for operations in flight, closes the sessions, finalizes the library if we initialized it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sessions.close();
    this.module.close();
  }
}
