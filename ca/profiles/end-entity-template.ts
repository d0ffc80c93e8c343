import { createHash } from "node:crypto";
import { algorithmIdentifierDer } from "./algorithms.js";
import {
  checkKindRules,
  personalDataOids,
  personalDataOrder,
  type EndEntityFields,
  type SigningPersonalData,
} from "./end-entity-certificate.js";
import { crlUrlOf, type EndEntityProfile } from "./end-entity-profile.js";
import { CaError } from "../errors.js";
import type { Locality } from "../residents/municipality.js";
import type { SignatureAlgorithmName } from "../ports.js";
import { serialOctets } from "../issuance/serial.js";
import { assertSubjectId } from "./subject-id.js";
import { parseCaId, type CaId } from "../types.js";
import { derConcat, derContext, derOctetString, derSequence, derTlv, DerTag } from "../x509/der.js";
import { DerReadError, elementContent, readChildren, readWhole } from "../x509/der-reader.js";
import {
  authorityInfoAccessExtension,
  authorityKeyIdentifierExtension,
  certificatePoliciesExtension,
  crlDistributionPointsExtension,
  extensionDer,
  extensionOids,
  issuerAltNameExtension,
  keyUsageExtension,
} from "../x509/extensions.js";
import { oidDer } from "../x509/general-names.js";
import { parseIssuerCertificate, type IssuerCertificate } from "../x509/issuer-certificate.js";
import { encodeName, nameAttributeOids } from "../x509/name.js";
import { timeDer, truncateToSecond } from "../x509/time.js";

/**
 * The hot-path TBSCertificate encoder of one (CA generation, kind): every constant DER piece (version,
 * signature AlgorithmIdentifier, issuer, keyUsage, certificatePolicies, issuerAltName, AIA, AKI) is
 * encoded once, with the same ca/x509 builders the reference uses; per certificate only the variable
 * parts are written with der.ts primitives (serial, validity, subject, SPKI, SKI, SAN), and the
 * partition's CRL DP extension comes from a per-partition cache. About 1–2 ms of pkijs work per
 * certificate becomes a few tens of µs (bench/tbs.bench.ts).
 *
 * Contract: `tbs(v)` is byte-identical to `buildEndEntityTbsReference(referenceFields(v))` for every
 * input (test/unit/ca/profiles/end-entity-template.test.ts). Differences allowed only for invalid input, which
 * both refuse (the template also refuses a SubjectPublicKeyInfo that is BER but not DER).
 */

export interface EndEntityTemplateContext {
  /** A validated profile (ca/profiles/end-entity-profile.ts) of the CA's kind. */
  readonly profile: EndEntityProfile;
  readonly caId: CaId;
  /** The CA generation's certificate (DER, or parsed by ca/x509/issuer-certificate.ts). */
  readonly caCertificate: Uint8Array | IssuerCertificate;
  /** The CA key's algorithm (the Signer's). */
  readonly signatureAlgorithm: SignatureAlgorithmName;
  /** The generation's partition count (fixed forever, docs/domain.md §4). */
  readonly partitionCount: number;
}

/** What differs between two certificates of one template. */
export interface EndEntityVariableFields {
  readonly serialHex: string;
  /** `partitionOf(serialHex, partitionCount)` (ca/issuance/serial.ts), recorded with the certificate. */
  readonly partition: number;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly subjectId: string;
  /** DER SubjectPublicKeyInfo (already accepted by the subject key policy). */
  readonly subjectPublicKey: Uint8Array;
  /** Required when the profile has `subjectLocality`, absent otherwise. */
  readonly locality?: Locality | null;
  /** Required when the profile has `personalData` (signing), absent otherwise. */
  readonly personal?: SigningPersonalData | null;
}

const utf8 = new TextEncoder();
const VERSION_V3 = derContext(0, Uint8Array.of(DerTag.integer, 1, 2), true); // [0] EXPLICIT INTEGER 2
const C_JP_RDN = derTlv(DerTag.set, derSequence(oidDer(nameAttributeOids.C), derTlv(DerTag.printableString, utf8.encode("JP"))));
const CN_OID = oidDer(nameAttributeOids.CN);
const SAN_OID = oidDer(extensionOids.subjectAltName);
const SKI_OID = oidDer(extensionOids.subjectKeyIdentifier);
const OTHER_NAME_OIDS = personalDataOrder.map((key) => oidDer(personalDataOids[key]));
/** Caps the locality cache (Japan has ~1,750 municipalities): beyond it, entries are encoded each time. */
const MAX_CACHED_LOCALITIES = 4096;

export class EndEntityTemplate {
  private readonly algAndIssuer: Uint8Array;
  private readonly kuAndPolicies: Uint8Array;
  private readonly issuerAltName: Uint8Array;
  private readonly aiaAndAki: Uint8Array;
  /** The RDNs of `profile.subjectMarker` (before the CN), encoded once; empty for the card's profiles. */
  private readonly markerRdns: Uint8Array;
  private readonly crlDpByPartition = new Map<number, Uint8Array>();
  private readonly localityRdns = new Map<string, Uint8Array>();

  private constructor(
    readonly profile: EndEntityProfile,
    readonly caId: CaId,
    readonly ca: IssuerCertificate,
    readonly signatureAlgorithm: SignatureAlgorithmName,
    readonly partitionCount: number,
  ) {
    const p = profile;
    this.algAndIssuer = derConcat(algorithmIdentifierDer(signatureAlgorithm), ca.subject);
    this.kuAndPolicies = derConcat(
      extensionDer(keyUsageExtension(p.keyUsage, true)),
      extensionDer(certificatePoliciesExtension([{ oid: p.policy.oid, cpsUri: p.policy.cpsUri }], p.policy.critical)),
    );
    this.issuerAltName = extensionDer(issuerAltNameExtension([{ type: "directoryName", name: p.issuerAltName }]));
    this.aiaAndAki = derConcat(
      ...(p.ocspUrl === null ? [] : [extensionDer(authorityInfoAccessExtension({ ocsp: p.ocspUrl }))]),
      extensionDer(authorityKeyIdentifierExtension(ca.keyIdentifier)),
    );
    const marker = p.subjectMarker ?? [];
    const markerName = marker.length > 0 ? encodeName(marker) : null;
    this.markerRdns = markerName === null ? new Uint8Array(0) : elementContent(markerName, readWhole(markerName)).slice();
  }

  /** Precomputes the constant pieces of one CA generation and kind. */
  static for(context: EndEntityTemplateContext): EndEntityTemplate {
    const { profile, caId, signatureAlgorithm, partitionCount } = context;
    const id = parseCaId(caId);
    if (!id || id.kind !== profile.kind) throw new CaError("invalid-input", `profile is for kind ${profile.kind}, CA is ${caId}`);
    if (!Number.isInteger(partitionCount) || partitionCount < 1 || partitionCount > 0x7fffffff) {
      throw new CaError("invalid-input", "partitionCount must be an integer from 1 to 2^31 - 1");
    }
    const ca = context.caCertificate instanceof Uint8Array ? parseIssuerCertificate(context.caCertificate) : context.caCertificate;
    return new EndEntityTemplate(profile, caId, ca, signatureAlgorithm, partitionCount);
  }

  /** The CRL distribution point URL of a partition. */
  crlUrl(partition: number): string {
    return crlUrlOf(this.profile.crlBaseUrl, this.caId, partition);
  }

  /** The DER TBSCertificate. */
  tbs(v: EndEntityVariableFields): Uint8Array {
    const personal = this.checkVariable(v);
    const serial = derTlv(DerTag.integer, serialOctets(v.serialHex, "serial"));
    const notBefore = truncateToSecond(v.notBefore);
    const notAfter = truncateToSecond(v.notAfter);
    if (notAfter.getTime() < notBefore.getTime()) throw new CaError("invalid-input", "notAfter is before notBefore", { field: "notAfter" });
    const validity = derSequence(timeDer(notBefore), timeDer(notAfter));

    assertSubjectId(v.subjectId);
    const cn = derTlv(DerTag.set, derSequence(CN_OID, derTlv(DerTag.printableString, utf8.encode(v.subjectId))));
    const subject = this.profile.subjectLocality ? derSequence(C_JP_RDN, this.locality(v.locality!), this.markerRdns, cn) : derSequence(C_JP_RDN, this.markerRdns, cn);

    const extensions: Uint8Array[] = [this.kuAndPolicies];
    if (personal !== null) extensions.push(subjectAltName(personal));
    extensions.push(this.issuerAltName, this.crlDp(v.partition), this.aiaAndAki, subjectKeyIdentifier(v.subjectPublicKey));

    return derSequence(
      VERSION_V3,
      serial,
      this.algAndIssuer,
      validity,
      subject,
      v.subjectPublicKey,
      derContext(3, derSequence(...extensions), true),
    );
  }

  /** The same certificate as reference-builder input (ca/profiles/end-entity-certificate.ts). */
  referenceFields(v: EndEntityVariableFields): EndEntityFields {
    const p = this.profile;
    return {
      kind: p.kind,
      serialHex: v.serialHex,
      issuer: this.ca.subject,
      caKeyId: this.ca.keyIdentifier,
      signatureAlgorithm: this.signatureAlgorithm,
      notBefore: v.notBefore,
      notAfter: v.notAfter,
      subjectId: v.subjectId,
      ...(v.locality ? { prefecture: v.locality.prefecture, municipality: v.locality.municipality } : {}),
      subjectPublicKey: v.subjectPublicKey,
      keyUsage: p.keyUsage,
      policyOid: p.policy.oid,
      cpsUri: p.policy.cpsUri,
      policyCritical: p.policy.critical,
      crlUrl: this.crlUrl(v.partition),
      ocspUrl: p.ocspUrl,
      issuerAltName: p.issuerAltName,
      personal: v.personal ?? null,
      ...(p.subjectMarker && p.subjectMarker.length > 0 ? { subjectMarker: p.subjectMarker } : {}),
    };
  }

  /** Profile rules on the variable part; returns the personal data to encode (null for none). */
  private checkVariable(v: EndEntityVariableFields): SigningPersonalData | null {
    const personal = v.personal ?? null;
    const hasLocality = v.locality !== undefined && v.locality !== null;
    checkKindRules(this.profile.kind, hasLocality, personal);
    if (this.profile.personalData !== (personal !== null)) {
      throw new CaError("internal", `personal data is ${this.profile.personalData ? "required" : "not allowed"} by the ${this.profile.kind} profile`);
    }
    if (this.profile.subjectLocality !== hasLocality) {
      throw new CaError("internal", `a locality is ${this.profile.subjectLocality ? "required" : "not allowed"} by the ${this.profile.kind} profile`);
    }
    return personal;
  }

  /** `SET{L=prefecture} SET{L=municipality}`, encoded by name.ts (its checks) and cached. */
  private locality(l: Locality): Uint8Array {
    const key = `${l.prefecture}\u0000${l.municipality}`;
    let rdns = this.localityRdns.get(key);
    if (rdns === undefined) {
      const name = encodeName([
        { type: "L", value: l.prefecture },
        { type: "L", value: l.municipality },
      ]);
      rdns = elementContent(name, readWhole(name)).slice();
      if (this.localityRdns.size < MAX_CACHED_LOCALITIES) this.localityRdns.set(key, rdns);
    }
    return rdns;
  }

  /** The partition's cRLDistributionPoints extension, encoded once per partition. */
  private crlDp(partition: number): Uint8Array {
    let ext = this.crlDpByPartition.get(partition);
    if (ext === undefined) {
      if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitionCount) {
        throw new CaError("internal", `partition must be an integer from 0 to ${this.partitionCount - 1}`);
      }
      ext = extensionDer(crlDistributionPointsExtension(this.crlUrl(partition)));
      this.crlDpByPartition.set(partition, ext);
    }
    return ext;
  }
}

/** subjectAltName with the six otherNames `[0] { type-id, [0] EXPLICIT UTF8String }`, non-critical. */
function subjectAltName(p: SigningPersonalData): Uint8Array {
  const names = personalDataOrder.map((key, i) =>
    derContext(0, derConcat(OTHER_NAME_OIDS[i]!, derContext(0, derTlv(DerTag.utf8String, utf8.encode(p[key])), true)), true),
  );
  return derSequence(SAN_OID, derOctetString(derSequence(...names)));
}

/** subjectKeyIdentifier, RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits; non-critical. */
function subjectKeyIdentifier(spki: Uint8Array): Uint8Array {
  let bits: Uint8Array;
  try {
    const seq = readWhole(spki);
    const parts = seq.tag === DerTag.sequence ? readChildren(spki, seq) : [];
    const bitString = parts[1];
    if (parts.length !== 2 || parts[0]!.tag !== DerTag.sequence || bitString?.tag !== DerTag.bitString) throw new DerReadError("not an SPKI");
    bits = elementContent(spki, bitString);
    if (bits.length < 1 || bits[0] !== 0) throw new DerReadError("unused bits");
  } catch (cause) {
    if (!(cause instanceof DerReadError)) throw cause;
    throw new CaError("invalid-input", "malformed SubjectPublicKeyInfo", { field: "publicKey", cause });
  }
  const keyId = createHash("sha1").update(bits.subarray(1)).digest();
  return derSequence(SKI_OID, derOctetString(derOctetString(keyId)));
}
