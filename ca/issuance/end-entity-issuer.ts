import { createPublicKey, verify, type KeyObject } from "node:crypto";
import { algorithmIdentifierDer, signatureHash } from "../profiles/algorithms.js";
import { EndEntityTemplate, type EndEntityTemplateContext, type EndEntityVariableFields } from "../profiles/end-entity-template.js";
import { CaError } from "../errors.js";
import type { SignatureAlgorithmName } from "../ports.js";
import { partitionOf } from "./serial.js";
import { derBitString, derSequence } from "../x509/der.js";
import { bytesEqual, DerReadError } from "../x509/der-reader.js";
import { splitSigned, tbsSignatureAlgorithmDer } from "../x509/signed-certificate.js";

/**
 * The end-entity certificate path the issuance service uses, per CA generation and kind
 * (docs/design.md invariant 1: record → sign → verify → record):
 *
 * ```ts
 * const partition = issuer.partitionOf(serialHex);
 * const tbs = issuer.prepare({ serialHex, partition, … });   // store as pending
 * const der = issuer.finish(tbs, await signer.sign(tbs));    // verified against the CA key
 * ```
 *
 * The CA public key is held as one node:crypto KeyObject for the life of the issuer.
 */
export class EndEntityIssuer {
  private readonly caKey: KeyObject;
  private readonly algId: Uint8Array;
  private readonly hash: "sha256" | "sha384";

  private constructor(readonly template: EndEntityTemplate) {
    const algorithm = template.signatureAlgorithm;
    try {
      this.caKey = createPublicKey({ key: Buffer.from(template.ca.subjectPublicKey), format: "der", type: "spki" });
    } catch (cause) {
      throw new CaError("invalid-input", "CA certificate public key is unreadable", { cause });
    }
    const wanted = algorithm === "sha256WithRSAEncryption" ? "rsa" : "ec";
    if (this.caKey.asymmetricKeyType !== wanted) {
      throw new CaError("invalid-input", `CA key type ${this.caKey.asymmetricKeyType ?? "?"} does not fit ${algorithm}`);
    }
    this.algId = algorithmIdentifierDer(algorithm);
    this.hash = signatureHash[algorithm];
  }

  /** Builds the template of one CA generation and kind (see EndEntityTemplate.for). */
  static create(context: EndEntityTemplateContext): EndEntityIssuer {
    return new EndEntityIssuer(EndEntityTemplate.for(context));
  }

  get signatureAlgorithm(): SignatureAlgorithmName {
    return this.template.signatureAlgorithm;
  }

  /** The CRL partition of a serial in this generation (ca/issuance/serial.ts partitionOf). */
  partitionOf(serialHex: string): number {
    return partitionOf(serialHex, this.template.partitionCount);
  }

  /** The DER TBSCertificate to store and then sign. */
  prepare(fields: EndEntityVariableFields): Uint8Array {
    return this.template.tbs(fields);
  }

  /**
   * Checks `signature` over `tbs` with the CA key, then assembles
   * `SEQUENCE { tbs, signatureAlgorithm, BIT STRING signature }` without re-encoding the TBS
   * (docs/traps.md §3 trap 10). CaError("internal") if the signature does not verify (invariant 1): a
   * wrong key, a wrong algorithm or a faulty HSM never yields a certificate.
   */
  finish(tbs: Uint8Array, signature: Uint8Array): Uint8Array {
    if (!this.verifySignature(tbs, signature)) {
      throw new CaError("internal", `end-entity signature does not verify against the ${this.template.caId} public key`);
    }
    return derSequence(tbs, this.algId, derBitString(signature));
  }

  /**
   * True when `der` is a certificate signed by this CA key with this generation's algorithm (outer and
   * TBS AlgorithmIdentifier both, RFC 5280 §4.1.1.2). False for anything else, malformed DER included.
   */
  verify(der: Uint8Array): boolean {
    let parts: { tbs: Uint8Array; algId: Uint8Array; signature: Uint8Array };
    try {
      parts = splitSigned(der);
      if (!bytesEqual(parts.algId, this.algId) || !bytesEqual(tbsSignatureAlgorithmDer(parts.tbs), this.algId)) return false;
    } catch (e) {
      if (e instanceof DerReadError) return false;
      throw e;
    }
    return this.verifySignature(parts.tbs, parts.signature);
  }

  private verifySignature(data: Uint8Array, signature: Uint8Array): boolean {
    try {
      // RSA: PKCS#1 v1.5 (node's default); ECDSA: DER ECDSA-Sig-Value (node's default dsaEncoding).
      return verify(this.hash, data, this.caKey, signature);
    } catch {
      return false;
    }
  }
}
