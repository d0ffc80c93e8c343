import { createSign, generateKeyPairSync, type KeyObject } from "node:crypto";
import { defaultAlgorithm, signatureHash } from "../ca/profiles/algorithms.js";
import type { Signer, SignatureAlgorithmName } from "../ca/ports.js";
import type { KeySpec } from "../ca/types.js";

/**
 * A software Signer on node:crypto, for unit tests and the contract suite only.
 * Never used for a CA key in a running service (invariant 5: CA keys live in the HSM).
 */
export class MemorySigner implements Signer {
  readonly publicKey: Uint8Array;
  private constructor(
    readonly algorithm: SignatureAlgorithmName,
    private readonly privateKey: KeyObject,
    publicKey: KeyObject,
  ) {
    this.publicKey = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
  }

  /** Generates a fresh key pair for `spec` and signs with `algorithm`. */
  static generate(spec: KeySpec, algorithm?: SignatureAlgorithmName): MemorySigner {
    const alg = algorithm ?? defaultAlgorithm(spec);
    const pair =
      spec.type === "rsa"
        ? generateKeyPairSync("rsa", { modulusLength: spec.bits, publicExponent: 0x10001 })
        : generateKeyPairSync("ec", { namedCurve: spec.curve });
    return new MemorySigner(alg, pair.privateKey, pair.publicKey);
  }

  /** Wraps an existing private key (e.g. a software TLS key). */
  static fromPrivateKey(privateKey: KeyObject, algorithm: SignatureAlgorithmName, publicKey: KeyObject): MemorySigner {
    return new MemorySigner(algorithm, privateKey, publicKey);
  }

  /** The private key, for tests that need to act as a card or client holding a key. */
  get keyObject(): KeyObject {
    return this.privateKey;
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    const s = createSign(signatureHash[this.algorithm]);
    s.update(data);
    // ECDSA: node:crypto's default dsaEncoding is "der" (ECDSA-Sig-Value), as X.509 wants.
    return new Uint8Array(s.sign(this.privateKey));
  }
}
