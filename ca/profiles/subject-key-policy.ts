import { type KeyObject, createPublicKey } from "node:crypto";
import * as asn1js from "asn1js";
import { CaError } from "../errors.js";
import { weakRsaModulus, type WeakRsaReason } from "./weak-keys.js";
import { plainKeyJwk, readPlainPublicKey, type PlainPublicKey } from "../x509/subject-public-key.js";

/**
 * Which subject (card) keys a profile accepts, as data (docs/domain.md §2: RSA-2048 e=65537 today, P-384
 * next generation). RSA-PSS-only keys (id-RSASSA-PSS SPKI), EC keys with explicit or implicit curve
 * parameters (RFC 5480 §2.1.1: namedCurve only), other curves and other algorithms (Ed25519, DSA, …)
 * are refused, and so are weak RSA moduli a card chip can produce (ca/profiles/weak-keys.ts: ROCA, small or close
 * prime factors; Boulder goodkey). EC points off the curve are refused by node:crypto's import.
 */
export type AllowedCurve = "P-256" | "P-384";

export interface SubjectKeyPolicy {
  /** null: no RSA keys at all. */
  readonly rsa: { readonly minBits: number; readonly maxBits: number; readonly exponent: number } | null;
  readonly ec: readonly AllowedCurve[];
}

export const defaultSubjectKeyPolicy: SubjectKeyPolicy = Object.freeze({
  rsa: Object.freeze({ minBits: 2048, maxBits: 4096, exponent: 65537 }),
  ec: Object.freeze(["P-256", "P-384"] as AllowedCurve[]),
});

/** What the key is, once accepted. */
export type SubjectKeyDescription =
  | { readonly type: "rsa"; readonly bits: number; readonly exponent: number }
  | { readonly type: "ec"; readonly curve: AllowedCurve };

/** OpenSSL curve names → NIST names (RFC 5480 §2.1.1.1). */
const curveNames: Readonly<Record<string, AllowedCurve>> = { prime256v1: "P-256", secp384r1: "P-384" };

const ID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";

interface ParsedSpki {
  readonly keyObject: KeyObject;
  readonly ecNamedCurve: boolean;
  /** The RSA modulus bytes when the plain reader had them (saves a JWK export). */
  readonly rsaModulus?: Uint8Array;
}

/** Parses a DER SubjectPublicKeyInfo; CaError("invalid-input", field) when it is not exactly one. */
function parseSpki(spki: Uint8Array, field: string): ParsedSpki {
  const garbled = (cause?: unknown): CaError => new CaError("invalid-input", `${field} does not hold a readable public key`, { field, cause });
  let plain: PlainPublicKey | undefined;
  try {
    plain = readPlainPublicKey(spki);
  } catch (cause) {
    throw garbled(cause);
  }
  let keyObject: KeyObject;
  if (plain !== undefined) {
    // The two plain forms cards use: imported as JWK, an order of magnitude cheaper (x509/subject-public-key.ts).
    try {
      keyObject = createPublicKey({ key: plainKeyJwk(plain), format: "jwk" });
    } catch (cause) {
      throw garbled(cause);
    }
    return plain.kind === "rsa" ? { keyObject, ecNamedCurve: false, rsaModulus: plain.n } : { keyObject, ecNamedCurve: true };
  }
  try {
    keyObject = createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength), format: "der", type: "spki" });
  } catch (cause) {
    throw garbled(cause);
  }
  // node:crypto reports `namedCurve` even for explicit parameters that match a known curve, and
  // ignores trailing bytes, so look at the encoding itself too.
  const asn1 = asn1js.fromBER(spki);
  if (asn1.offset !== spki.byteLength) throw garbled();
  const algorithm = (asn1.result as asn1js.Sequence).valueBlock.value[0] as asn1js.Sequence | undefined;
  const [oid, params] = algorithm?.valueBlock.value ?? [];
  const isEc = oid instanceof asn1js.ObjectIdentifier && oid.valueBlock.toString() === ID_EC_PUBLIC_KEY;
  return { keyObject, ecNamedCurve: isEc && params instanceof asn1js.ObjectIdentifier };
}

function describeKey(parsed: ParsedSpki, policy: SubjectKeyPolicy, field: string): SubjectKeyDescription {
  const refuse = (rule: string): CaError => new CaError("unprocessable", `${field}: ${rule}`, { field });
  const key = parsed.keyObject;
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case "rsa": {
      if (!policy.rsa) throw refuse("RSA keys are not accepted by this profile");
      const bits = details.modulusLength ?? 0;
      const exponent = details.publicExponent ?? 0n;
      if (bits < policy.rsa.minBits) throw refuse(`RSA key shorter than ${policy.rsa.minBits} bits`);
      if (bits > policy.rsa.maxBits) throw refuse(`RSA key longer than ${policy.rsa.maxBits} bits`);
      if (exponent !== BigInt(policy.rsa.exponent)) throw refuse(`RSA public exponent must be ${policy.rsa.exponent}`);
      const weak = weakRsaModulus(rsaModulusOf(parsed));
      if (weak !== null) throw refuse(weakKeyRules[weak]);
      return { type: "rsa", bits, exponent: policy.rsa.exponent };
    }
    case "ec": {
      const curve = details.namedCurve === undefined ? undefined : curveNames[details.namedCurve];
      if (!curve || !policy.ec.includes(curve)) throw refuse(`EC keys must be on ${policy.ec.join(" or ") || "no curve"}`);
      if (!parsed.ecNamedCurve) throw refuse("EC keys must name their curve (RFC 5480 §2.1.1)");
      return { type: "ec", curve };
    }
    case "rsa-pss":
      throw refuse("RSA-PSS keys are not accepted");
    default:
      throw refuse("key algorithm not accepted");
  }
}

/** What the 422 says for each weak-modulus reason (no key material in the message). */
const weakKeyRules: Readonly<Record<WeakRsaReason, string>> = Object.freeze({
  "small-factor": "RSA modulus has a small prime factor",
  roca: "RSA key has the ROCA fingerprint (CVE-2017-15361): generated by a vulnerable chip",
  "close-factors": "RSA modulus has prime factors too close together",
});

function rsaModulusOf(parsed: ParsedSpki): bigint {
  const bytes = parsed.rsaModulus ?? Buffer.from((parsed.keyObject.export({ format: "jwk" }) as { n: string }).n, "base64url");
  return BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex") || "0"}`);
}

/**
 * Parses a DER SubjectPublicKeyInfo and checks it against the profile; returns the node:crypto key
 * too, for callers that go on to verify a signature with it (csr.ts).
 * Throws CaError("invalid-input", field) for unreadable DER, CaError("unprocessable", field) for a
 * key the profile refuses.
 */
export function acceptSubjectPublicKey(spki: Uint8Array, policy: SubjectKeyPolicy, field: string): { keyObject: KeyObject; key: SubjectKeyDescription } {
  const parsed = parseSpki(spki, field);
  return { keyObject: parsed.keyObject, key: describeKey(parsed, policy, field) };
}

/** Checks a DER SubjectPublicKeyInfo against the profile's allowed keys (errors as acceptSubjectPublicKey). */
export function checkSubjectPublicKey(spki: Uint8Array, policy: SubjectKeyPolicy, field: string): SubjectKeyDescription {
  return acceptSubjectPublicKey(spki, policy, field).key;
}
