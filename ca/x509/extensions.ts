import { createHash } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { CaError } from "../errors.js";
import {
  derBitString,
  derBoolean,
  derContext,
  derInteger,
  derNull,
  derOctetString,
  derSequence,
  derTlv,
  DerTag,
} from "./der.js";
import { generalNameDer, generalNamesDer, oidDer, type GeneralNameInput } from "./general-names.js";

/**
 * Builders of the certificate extensions the CA issues (RFC 5280 §4.2), each returning a
 * `pkijs.Extension`. Values are written straight to DER (no pkijs value classes: fewer traps, half the
 * cost). Criticality follows RFC 5280 where it decides ("MUST"/"MUST NOT" are not parameters); where the
 * profile decides, the caller passes `critical`.
 */

export const extensionOids = Object.freeze({
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  issuerAltName: "2.5.29.18",
  basicConstraints: "2.5.29.19",
  cRLDistributionPoints: "2.5.29.31",
  certificatePolicies: "2.5.29.32",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  authorityInfoAccess: "1.3.6.1.5.5.7.1.1",
  ocspNoCheck: "1.3.6.1.5.5.7.48.1.5",
} as const);

/** KeyUsage bit numbers (RFC 5280 §4.2.1.3); nonRepudiation is also called contentCommitment. */
export const keyUsageBits = Object.freeze({
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
  encipherOnly: 7,
  decipherOnly: 8,
} as const);
export type KeyUsageName = keyof typeof keyUsageBits;

/** Extended key usage purposes (RFC 5280 §4.2.1.12, RFC 6960 §4.2.2.2). */
export const extKeyUsageOids = Object.freeze({
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  codeSigning: "1.3.6.1.5.5.7.3.3",
  emailProtection: "1.3.6.1.5.5.7.3.4",
  timeStamping: "1.3.6.1.5.5.7.3.8",
  OCSPSigning: "1.3.6.1.5.5.7.3.9",
} as const);
export type ExtKeyUsageName = keyof typeof extKeyUsageOids;

/** id-qt-cps (RFC 5280 §4.2.1.4). */
export const idQtCps = "1.3.6.1.5.5.7.2.1";
/** id-ad-ocsp and id-ad-caIssuers (RFC 5280 §4.2.2.1). */
export const idAdOcsp = "1.3.6.1.5.5.7.48.1";
export const idAdCaIssuers = "1.3.6.1.5.5.7.48.2";

/** Wraps an encoded extension value. */
export function extension(extnID: string, critical: boolean, value: Uint8Array): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.slice().buffer });
}

/** The DER of an Extension as it goes into the TBS (for templates and tests). */
export function extensionDer(ext: pkijs.Extension): Uint8Array {
  return new Uint8Array(ext.toSchema().toBER(false));
}

/**
 * basicConstraints (RFC 5280 §4.2.1.9). CA certificates MUST mark it critical; the default is critical.
 * `cA` FALSE is the DEFAULT and so is omitted from the DER; pathLenConstraint only with cA.
 */
export function basicConstraintsExtension(options: { ca: boolean; pathLength?: number; critical?: boolean }): pkijs.Extension {
  const { ca, pathLength, critical = true } = options;
  if (pathLength !== undefined && (!ca || !Number.isInteger(pathLength) || pathLength < 0)) {
    throw new CaError("invalid-input", "pathLenConstraint needs cA and a non-negative integer (RFC 5280 §4.2.1.9)");
  }
  const parts: Uint8Array[] = [];
  if (ca) parts.push(derBoolean(true));
  if (pathLength !== undefined) parts.push(derInteger(BigInt(pathLength)));
  return extension(extensionOids.basicConstraints, critical, derSequence(...parts));
}

/** The DER KeyUsage BIT STRING: named bits, trailing zero bits removed (X.690 §11.2.2). */
export function keyUsageBitString(usages: readonly KeyUsageName[]): Uint8Array {
  if (usages.length === 0) throw new CaError("invalid-input", "keyUsage needs at least one bit (RFC 5280 §4.2.1.3)");
  let highest = -1;
  const bytes = new Uint8Array(2);
  for (const u of usages) {
    const bit = keyUsageBits[u];
    if (bit === undefined) throw new CaError("invalid-input", `unknown key usage ${String(u)}`);
    bytes[bit >> 3]! |= 0x80 >> (bit & 7);
    highest = Math.max(highest, bit);
  }
  const length = (highest >> 3) + 1;
  return derBitString(bytes.subarray(0, length), 7 - (highest & 7));
}

/** keyUsage (RFC 5280 §4.2.1.3): "SHOULD mark this extension critical"; default critical. */
export function keyUsageExtension(usages: readonly KeyUsageName[], critical = true): pkijs.Extension {
  return extension(extensionOids.keyUsage, critical, keyUsageBitString(usages));
}

/**
 * Key identifier, RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's value
 * (without tag, length and unused-bits octet) of a DER SubjectPublicKeyInfo.
 */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  const parsed = asn1js.fromBER(spki.slice().buffer);
  const seq = parsed.result;
  const bitString = seq instanceof asn1js.Sequence ? seq.valueBlock.value[1] : undefined;
  if (parsed.offset === -1 || !(bitString instanceof asn1js.BitString) || bitString.valueBlock.unusedBits !== 0) {
    throw new CaError("invalid-input", "malformed SubjectPublicKeyInfo", { field: "publicKey" });
  }
  return new Uint8Array(createHash("sha1").update(bitString.valueBlock.valueHexView).digest());
}

/** subjectKeyIdentifier (RFC 5280 §4.2.1.2): MUST NOT be critical. Method 1 over `spki`. */
export function subjectKeyIdentifierExtension(spki: Uint8Array): pkijs.Extension {
  return extension(extensionOids.subjectKeyIdentifier, false, derOctetString(keyIdentifier(spki)));
}

/**
 * authorityKeyIdentifier (RFC 5280 §4.2.1.1) with keyIdentifier only (`[0] IMPLICIT OCTET STRING`):
 * MUST NOT be critical. Pass the issuer's SKI value.
 */
export function authorityKeyIdentifierExtension(issuerKeyId: Uint8Array): pkijs.Extension {
  if (issuerKeyId.length === 0) throw new CaError("invalid-input", "empty authority key identifier");
  return extension(extensionOids.authorityKeyIdentifier, false, derSequence(derContext(0, issuerKeyId, false)));
}

/**
 * subjectAltName (RFC 5280 §4.2.1.6). Non-critical by default; MUST be critical when the subject DN is
 * empty. otherName entries are `[0] { type-id, [0] EXPLICIT UTF8String }`.
 */
export function subjectAltNameExtension(names: readonly GeneralNameInput[], critical = false): pkijs.Extension {
  return extension(extensionOids.subjectAltName, critical, generalNamesDer(names));
}

/** issuerAltName (RFC 5280 §4.2.1.7): "SHOULD NOT be critical"; default non-critical. */
export function issuerAltNameExtension(names: readonly GeneralNameInput[], critical = false): pkijs.Extension {
  return extension(extensionOids.issuerAltName, critical, generalNamesDer(names));
}

export interface PolicyInput {
  readonly oid: string;
  /** A CPS pointer qualifier (id-qt-cps, IA5String URI). */
  readonly cpsUri?: string;
}

/**
 * certificatePolicies (RFC 5280 §4.2.1.4). Criticality is the profile's choice (JPKI signing
 * certificates mark it critical, docs/domain.md §2), so it is a required argument.
 */
export function certificatePoliciesExtension(policies: readonly PolicyInput[], critical: boolean): pkijs.Extension {
  if (policies.length === 0) throw new CaError("invalid-input", "certificatePolicies needs a policy");
  if (new Set(policies.map((p) => p.oid)).size !== policies.length) {
    throw new CaError("invalid-input", "a policy OID appears twice (RFC 5280 §4.2.1.4)");
  }
  const infos = policies.map((p) => {
    const qualifiers =
      p.cpsUri === undefined
        ? []
        : [derSequence(derSequence(oidDer(idQtCps), derTlv(DerTag.ia5String, ia5Uri(p.cpsUri))))];
    return derSequence(oidDer(p.oid), ...qualifiers);
  });
  return extension(extensionOids.certificatePolicies, critical, derSequence(...infos));
}

/**
 * cRLDistributionPoints (RFC 5280 §4.2.1.13) with one DistributionPoint whose fullName is one URI:
 * `SEQUENCE { SEQUENCE { [0] { [0] { [6] uri } } } }`. "SHOULD be non-critical".
 */
export function crlDistributionPointsExtension(uri: string, critical = false): pkijs.Extension {
  const fullName = derContext(0, generalNameDer({ type: "uniformResourceIdentifier", value: uri }), true);
  const distributionPoint = derContext(0, fullName, true);
  return extension(extensionOids.cRLDistributionPoints, critical, derSequence(derSequence(distributionPoint)));
}

/** authorityInfoAccess (RFC 5280 §4.2.2.1): OCSP first, then caIssuers. MUST NOT be critical. */
export function authorityInfoAccessExtension(access: { ocsp?: string; caIssuers?: string }): pkijs.Extension {
  const descriptions: Uint8Array[] = [];
  if (access.ocsp !== undefined) {
    descriptions.push(derSequence(oidDer(idAdOcsp), generalNameDer({ type: "uniformResourceIdentifier", value: access.ocsp })));
  }
  if (access.caIssuers !== undefined) {
    descriptions.push(
      derSequence(oidDer(idAdCaIssuers), generalNameDer({ type: "uniformResourceIdentifier", value: access.caIssuers })),
    );
  }
  if (descriptions.length === 0) throw new CaError("invalid-input", "authorityInfoAccess needs an OCSP or caIssuers URI");
  return extension(extensionOids.authorityInfoAccess, false, derSequence(...descriptions));
}

/** extKeyUsage (RFC 5280 §4.2.1.12): names above or dotted OIDs; non-critical by default. */
export function extKeyUsageExtension(purposes: readonly (ExtKeyUsageName | (string & {}))[], critical = false): pkijs.Extension {
  if (purposes.length === 0) throw new CaError("invalid-input", "extKeyUsage needs a purpose");
  const oids = purposes.map((p) => (Object.hasOwn(extKeyUsageOids, p) ? extKeyUsageOids[p as ExtKeyUsageName] : p));
  return extension(extensionOids.extKeyUsage, critical, derSequence(...oids.map(oidDer)));
}

/**
 * id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): value NULL; "SHOULD be a non-critical extension".
 * Goes in delegated OCSP responder certificates so clients do not check the responder's own status.
 */
export function ocspNoCheckExtension(): pkijs.Extension {
  return extension(extensionOids.ocspNoCheck, false, derNull());
}

function ia5Uri(uri: string): Uint8Array {
  if (uri.length === 0 || !/^[\x21-\x7e]+$/.test(uri)) throw new CaError("invalid-input", "URI must be non-empty ASCII without spaces");
  return new TextEncoder().encode(uri);
}

// Re-exported so that callers of the builders need one import.
export type { GeneralNameInput } from "./general-names.js";
