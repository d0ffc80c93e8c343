import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import type { SignatureAlgorithmName } from "../ports.js";

/** OIDs of the signature algorithms (RFC 4055 §5, RFC 5758 §3.2). */
export const signatureAlgorithmOids: Readonly<Record<SignatureAlgorithmName, string>> = Object.freeze({
  sha256WithRSAEncryption: "1.2.840.113549.1.1.11",
  "ecdsa-with-SHA256": "1.2.840.10045.4.3.2",
  "ecdsa-with-SHA384": "1.2.840.10045.4.3.3",
});

/** Hash used by each signature algorithm (node:crypto names). */
export const signatureHash: Readonly<Record<SignatureAlgorithmName, "sha256" | "sha384">> = Object.freeze({
  sha256WithRSAEncryption: "sha256",
  "ecdsa-with-SHA256": "sha256",
  "ecdsa-with-SHA384": "sha384",
});

/**
 * The AlgorithmIdentifier: RFC 4055 §5 wants NULL parameters for RSA; RFC 5758 §3.2 wants them
 * absent for ECDSA.
 */
export function algorithmIdentifier(name: SignatureAlgorithmName): pkijs.AlgorithmIdentifier {
  const algorithmId = signatureAlgorithmOids[name];
  return name === "sha256WithRSAEncryption"
    ? new pkijs.AlgorithmIdentifier({ algorithmId, algorithmParams: new asn1js.Null() })
    : new pkijs.AlgorithmIdentifier({ algorithmId });
}

/** DER of the AlgorithmIdentifier, cached: it never changes for a name. */
const derCache = new Map<SignatureAlgorithmName, Uint8Array>();
export function algorithmIdentifierDer(name: SignatureAlgorithmName): Uint8Array {
  let der = derCache.get(name);
  if (!der) {
    der = new Uint8Array(algorithmIdentifier(name).toSchema().toBER(false));
    derCache.set(name, der);
  }
  return der;
}

/** The signature algorithm that goes with a key: SHA-384 for P-384 (RFC 5480 §4), SHA-256 otherwise. */
export function defaultAlgorithm(spec: import("../types.js").KeySpec): SignatureAlgorithmName {
  if (spec.type === "rsa") return "sha256WithRSAEncryption";
  return spec.curve === "P-384" ? "ecdsa-with-SHA384" : "ecdsa-with-SHA256";
}
