import type { AliasFormatter } from "../residents/alias-format.js";
import { formatJpkiDateOfBirth } from "../residents/era.js";
import { CaError } from "../errors.js";
import { codePointLength } from "../residents/full-width.js";
import type { SignatureAlgorithmName } from "../ports.js";
import type { ResidentFields } from "../residents/resident-fields.js";
import { assertSubjectId } from "./subject-id.js";
import type { CaKind } from "../types.js";
import {
  authorityInfoAccessExtension,
  authorityKeyIdentifierExtension,
  certificatePoliciesExtension,
  crlDistributionPointsExtension,
  issuerAltNameExtension,
  keyUsageExtension,
  subjectAltNameExtension,
  subjectKeyIdentifierExtension,
  type GeneralNameInput,
  type KeyUsageName,
} from "../x509/extensions.js";
import { encodeName, type NameAttribute } from "../x509/name.js";
import { encodeTbsCertificate } from "../x509/signed-certificate.js";
import { buildTbsCertificate } from "../x509/tbs-certificate.js";

/**
 * The end-entity (resident) certificate, REFERENCE builder: pkijs objects from the ca/x509 builders,
 * encoded with `encodeTBS().toBER(false)`. It is the readable definition of the profile; the hot path
 * is ca/profiles/end-entity-template.ts, which must produce the same bytes for every input (tested).
 * Extension order: ca/profiles/end-entity-profile.ts `endEntityExtensionOrder`.
 */

/** The personal-data otherName type-ids (docs/domain.md §2 [C]). */
export const personalDataOids = Object.freeze({
  name: "1.2.392.200149.8.5.5.1",
  nameSubstituteFlags: "1.2.392.200149.8.5.5.2",
  gender: "1.2.392.200149.8.5.5.3",
  dateOfBirth: "1.2.392.200149.8.5.5.4",
  address: "1.2.392.200149.8.5.5.5",
  addressSubstituteFlags: "1.2.392.200149.8.5.5.6",
} as const);

/** The six strings of a signing certificate's subjectAltName, exactly as encoded (UTF8String). */
export interface SigningPersonalData {
  /** 5.5.1: full-width, already alias-rendered (ca/residents/alias-format.ts). */
  readonly name: string;
  /** 5.5.2: one `0`/`1` per code point of `name`. */
  readonly nameSubstituteFlags: string;
  /** 5.5.3: "1" male, "2" female, "3" unknown. */
  readonly gender: "1" | "2" | "3";
  /** 5.5.4: `EYYYYMMDD` (ca/residents/era.ts). */
  readonly dateOfBirth: string;
  /** 5.5.5: full-width address. */
  readonly address: string;
  /** 5.5.6: one `0`/`1` per code point of `address`. */
  readonly addressSubstituteFlags: string;
}

/** The order real cards use (docs/domain.md §2): 5.5.1, 5.5.4, 5.5.3, 5.5.5, 5.5.2, 5.5.6. */
export const personalDataOrder: readonly (keyof SigningPersonalData)[] = Object.freeze([
  "name",
  "dateOfBirth",
  "gender",
  "address",
  "nameSubstituteFlags",
  "addressSubstituteFlags",
]);

/** Everything one end-entity TBSCertificate is made of. */
export interface EndEntityFields {
  readonly kind: CaKind;
  /** Lower-case hex content octets (ca/issuance/serial.ts). */
  readonly serialHex: string;
  /** DER of the CA certificate's subject Name, byte-exact. */
  readonly issuer: Uint8Array;
  /** The CA certificate's subjectKeyIdentifier value (goes into the AKI). */
  readonly caKeyId: Uint8Array;
  readonly signatureAlgorithm: SignatureAlgorithmName;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** CN (ca/profiles/subject-id.ts). */
  readonly subjectId: string;
  /** Both or neither: the subject's two L attributes (ca/residents/municipality.ts). */
  readonly prefecture?: string;
  readonly municipality?: string;
  /** DER SubjectPublicKeyInfo. */
  readonly subjectPublicKey: Uint8Array;
  readonly keyUsage: readonly KeyUsageName[];
  readonly policyOid: string;
  readonly cpsUri: string;
  readonly policyCritical: boolean;
  /** The partition's CRL URL. */
  readonly crlUrl: string;
  /** AIA OCSP URL, or null for no AIA. */
  readonly ocspUrl: string | null;
  /** issuerAltName directoryName: a Name's DER or its attributes. */
  readonly issuerAltName: Uint8Array | readonly NameAttribute[];
  /** Signing only (the SAN); must be null for user-auth. */
  readonly personal: SigningPersonalData | null;
  /** Subject attributes before the CN (EndEntityProfile.subjectMarker), e.g. `OU=phone`. */
  readonly subjectMarker?: readonly NameAttribute[];
}

const invalid = (field: string, rule: string): CaError => new CaError("invalid-input", `${field} ${rule}`, { field });
const CONTROL_OR_LONE_SURROGATE = /[\u0000-\u001f\u007f]|\p{Cs}/u;

/**
 * Checks the six strings (shape only: the full-width and length rules were applied to the request by
 * ca/residents/resident-fields.ts). Messages name the field, never the value (invariant 6).
 */
export function checkPersonalData(p: SigningPersonalData): void {
  const text = (v: unknown, field: string): string => {
    if (typeof v !== "string" || v.length === 0 || CONTROL_OR_LONE_SURROGATE.test(v)) throw invalid(field, "must be non-empty text without control characters");
    return v;
  };
  const flags = (v: unknown, of: string, field: string): void => {
    if (typeof v !== "string" || !/^[01]+$/.test(v) || v.length !== codePointLength(of)) {
      throw invalid(field, "must have one 0/1 digit per character");
    }
  };
  const name = text(p.name, "resident.name");
  flags(p.nameSubstituteFlags, name, "resident.nameSubstituteFlags");
  const address = text(p.address, "resident.address");
  flags(p.addressSubstituteFlags, address, "resident.addressSubstituteFlags");
  if (p.gender !== "1" && p.gender !== "2" && p.gender !== "3") throw invalid("resident.gender", "must be 1, 2 or 3");
  if (typeof p.dateOfBirth !== "string" || !/^[0-5][0-9]{8}$/.test(p.dateOfBirth)) throw invalid("resident.dateOfBirth", "must be EYYYYMMDD");
}

/** The personal data of a validated resident record: alias rendered into the name, date as `EYYYYMMDD`. */
export function signingPersonalData(resident: ResidentFields, aliasFormatter: AliasFormatter): SigningPersonalData {
  const rendered = aliasFormatter.render({
    name: resident.name,
    nameSubstituteFlags: resident.nameSubstituteFlags,
    alias: resident.alias,
    aliasSubstituteFlags: resident.aliasSubstituteFlags,
  });
  return Object.freeze({
    name: rendered.name,
    nameSubstituteFlags: rendered.nameSubstituteFlags,
    gender: String(resident.gender) as SigningPersonalData["gender"],
    dateOfBirth: formatJpkiDateOfBirth(resident.dateOfBirth),
    address: resident.address,
    addressSubstituteFlags: resident.addressSubstituteFlags,
  });
}

/** The six otherNames in JPKI order. */
export function personalDataGeneralNames(p: SigningPersonalData): GeneralNameInput[] {
  return personalDataOrder.map((key) => ({ type: "otherName", typeId: personalDataOids[key], value: p[key] }));
}

/** The subject attributes: `C=JP[, L=<prefecture>, L=<municipality>], CN=<subjectId>`. */
export function endEntitySubject(fields: Pick<EndEntityFields, "subjectId" | "prefecture" | "municipality" | "subjectMarker">): NameAttribute[] {
  assertSubjectId(fields.subjectId);
  const hasP = fields.prefecture !== undefined;
  if (hasP !== (fields.municipality !== undefined)) throw invalid("municipality", "prefecture and municipality go together");
  return [
    { type: "C", value: "JP" },
    ...(hasP ? [{ type: "L", value: fields.prefecture! }, { type: "L", value: fields.municipality! }] : []),
    ...(fields.subjectMarker ?? []),
    { type: "CN", value: fields.subjectId },
  ];
}

/**
 * Kind rules shared by the reference and the template: user-auth certificates carry no personal data
 * and no locality (docs/domain.md §2).
 */
export function checkKindRules(kind: CaKind, hasLocality: boolean, personal: SigningPersonalData | null): void {
  if (kind === "auth" && (personal !== null || hasLocality)) {
    throw new CaError("internal", "a user-authentication certificate must not carry personal data or a locality");
  }
  if (personal !== null) checkPersonalData(personal);
}

/** The DER TBSCertificate, built with pkijs objects (the reference). */
export function buildEndEntityTbsReference(fields: EndEntityFields): Uint8Array {
  checkKindRules(fields.kind, fields.prefecture !== undefined || fields.municipality !== undefined, fields.personal);
  const extensions = [
    keyUsageExtension(fields.keyUsage, true),
    certificatePoliciesExtension([{ oid: fields.policyOid, cpsUri: fields.cpsUri }], fields.policyCritical),
  ];
  if (fields.personal !== null) extensions.push(subjectAltNameExtension(personalDataGeneralNames(fields.personal), false));
  extensions.push(issuerAltNameExtension([{ type: "directoryName", name: fields.issuerAltName }]));
  extensions.push(crlDistributionPointsExtension(fields.crlUrl));
  if (fields.ocspUrl !== null) extensions.push(authorityInfoAccessExtension({ ocsp: fields.ocspUrl }));
  extensions.push(authorityKeyIdentifierExtension(fields.caKeyId));
  extensions.push(subjectKeyIdentifierExtension(fields.subjectPublicKey));

  const cert = buildTbsCertificate({
    serial: fields.serialHex,
    issuer: fields.issuer,
    subject: encodeName(endEntitySubject(fields)),
    notBefore: fields.notBefore,
    notAfter: fields.notAfter,
    subjectPublicKey: fields.subjectPublicKey,
    extensions,
  });
  return encodeTbsCertificate(cert, fields.signatureAlgorithm);
}
