import { DerReadError, elementBytes, elementContent, readChildren, readWhole, type DerElement } from "./der-reader.js";

/**
 * The structure of a PKCS#10 CertificationRequest (RFC 2986 §4), read with the DER walker: every
 * issuance reads two, and asn1js + pkijs took ~0.8 ms of the ~1.5 ms each cost (docs/performance.md),
 * a tenth of the service's event loop under load. It accepts exactly what pkijs's CertificationRequest
 * schema accepts (test/unit/ca/x509/certification-request.test.ts compares both over valid requests and
 * thousands of truncated and corrupted ones); it only locates the parts, values are checked by the
 * caller (ca/issuance/csr.ts): the key by node:crypto and the profile, the signature by node:crypto.
 *
 *   CertificationRequest ::= SEQUENCE {
 *     certificationRequestInfo SEQUENCE { version INTEGER, subject Name, subjectPKInfo SEQUENCE,
 *                                         attributes [0] IMPLICIT SET OF Attribute (optional in pkijs) },
 *     signatureAlgorithm AlgorithmIdentifier, signature BIT STRING }
 */
export interface CertificationRequestParts {
  /** certificationRequestInfo as received: what the signature covers. */
  readonly info: Uint8Array;
  /** The version INTEGER's value (0 for v1), or -1 when it is not a small non-negative integer. */
  readonly version: number;
  /** DER of the subject Name. */
  readonly subject: Uint8Array;
  /** DER of the SubjectPublicKeyInfo, as received. */
  readonly spki: Uint8Array;
  /** DER of the signature algorithm's OBJECT IDENTIFIER (tag and length included). */
  readonly signatureAlgorithmOid: Uint8Array;
  /** The AlgorithmIdentifier's parameters: absent, NULL, or something else. */
  readonly signatureAlgorithmParameters: "absent" | "null" | "other";
  readonly signatureUnusedBits: number;
  /** The signature BIT STRING's bits (after the unused-bits octet). */
  readonly signature: Uint8Array;
}

const SEQUENCE = 0x30;
const SET = 0x31;
const INTEGER = 0x02;
const OID = 0x06;
const NULL = 0x05;
const BIT_STRING = 0x03;
const ATTRIBUTES = 0xa0;

const fail = (why: string): never => {
  throw new DerReadError(why);
};

function expectTag(el: DerElement | undefined, tag: number, what: string): DerElement {
  if (el === undefined || el.tag !== tag) fail(`${what}: expected tag 0x${tag.toString(16)}`);
  return el!;
}

/** A Name: SEQUENCE OF SET OF SEQUENCE { OBJECT IDENTIFIER, ANY } (X.501). */
function checkName(der: Uint8Array, name: DerElement): void {
  for (const rdn of readChildren(der, name)) {
    expectTag(rdn, SET, "RelativeDistinguishedName");
    for (const atv of readChildren(der, rdn)) {
      const [type, value, extra] = readChildren(der, expectTag(atv, SEQUENCE, "AttributeTypeAndValue"));
      checkOid(der, expectTag(type, OID, "attribute type"));
      if (value === undefined || extra !== undefined) fail("AttributeTypeAndValue: one type and one value");
      checkInner(der, value!);
    }
  }
}

/** Attribute ::= SEQUENCE { type OBJECT IDENTIFIER, values SET OF ANY }. */
function checkAttributes(der: Uint8Array, attributes: DerElement): void {
  for (const attribute of readChildren(der, attributes)) {
    const [type, values, extra] = readChildren(der, expectTag(attribute, SEQUENCE, "Attribute"));
    checkOid(der, expectTag(type, OID, "attribute type"));
    expectTag(values, SET, "attribute values");
    if (extra !== undefined) fail("Attribute: one type and one SET of values");
    for (const v of readChildren(der, values!)) checkInner(der, v);
  }
}

/** OBJECT IDENTIFIER content: base-128 subidentifiers, each minimal, the last one complete. */
function checkOid(der: Uint8Array, el: DerElement): void {
  const c = elementContent(der, el);
  if (c.length === 0 || c[c.length - 1]! >= 0x80) fail("OBJECT IDENTIFIER: truncated");
  for (let i = 0; i < c.length; i++) if (c[i] === 0x80 && (i === 0 || c[i - 1]! < 0x80)) fail("OBJECT IDENTIFIER: non-minimal");
}

/** Universal primitive types accepted anywhere inside, with a check of their contents where BER has rules. */
const PRIMITIVE_CHECKS = new Map<number, (content: Uint8Array) => boolean>([
  [0x01, (c) => c.length === 1], // BOOLEAN
  [0x02, (c) => c.length > 0], // INTEGER
  [0x03, (c) => c.length > 0 && c[0]! <= 7 && (c.length > 1 || c[0] === 0)], // BIT STRING
  [0x04, () => true], // OCTET STRING
  [0x05, (c) => c.length === 0], // NULL
  [0x0a, (c) => c.length > 0], // ENUMERATED
  [0x0c, () => true], // UTF8String
  [0x12, () => true], // NumericString
  [0x13, () => true], // PrintableString
  [0x14, () => true], // TeletexString
  [0x16, () => true], // IA5String
  [0x17, (c) => /^\d{12}Z$/.test(Buffer.from(c).toString("latin1"))], // UTCTime
  [0x18, (c) => /^\d{14}(\.\d*[1-9])?Z$/.test(Buffer.from(c).toString("latin1"))], // GeneralizedTime
  [0x1a, () => true], // VisibleString
  [0x1c, (c) => c.length % 4 === 0], // UniversalString
  [0x1e, (c) => c.length % 2 === 0], // BMPString
]);

/**
 * Any element, all the way down, at least as strictly as a BER parser reads it: constructed elements
 * are SEQUENCE, SET or context-specific and hold well-formed elements; primitive ones are of the types
 * above with valid contents (OBJECT IDENTIFIERs checked too), or context-specific. Anything else
 * (another universal type, a constructed string) is refused: a card's CSR has no use for it.
 */
function checkInner(der: Uint8Array, el: DerElement): void {
  const tagClass = el.tag & 0xc0;
  if ((el.tag & 0x20) !== 0) {
    if (el.tag !== SEQUENCE && el.tag !== SET && tagClass !== 0x80) fail(`constructed tag 0x${el.tag.toString(16)} not accepted`);
    for (const c of readChildren(der, el)) checkInner(der, c);
    return;
  }
  if (tagClass === 0x80) return;
  if (el.tag === OID) return checkOid(der, el);
  const check = PRIMITIVE_CHECKS.get(el.tag);
  if (check === undefined || !check(elementContent(der, el))) fail(`primitive tag 0x${el.tag.toString(16)}: not accepted or bad content`);
}

/** SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }. */
function checkSpki(der: Uint8Array, spki: DerElement): void {
  const [alg, key, extra] = readChildren(der, spki);
  checkAlgorithmIdentifier(der, expectTag(alg, SEQUENCE, "SubjectPublicKeyInfo algorithm"));
  checkInner(der, expectTag(key, BIT_STRING, "subjectPublicKey"));
  if (extra !== undefined) fail("SubjectPublicKeyInfo: two elements");
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }. */
function checkAlgorithmIdentifier(der: Uint8Array, alg: DerElement): [DerElement, DerElement | undefined] {
  const [oid, params, extra] = readChildren(der, alg);
  checkOid(der, expectTag(oid, OID, "algorithm"));
  if (params !== undefined) checkInner(der, params);
  if (extra !== undefined) fail("AlgorithmIdentifier: at most two elements");
  return [oid!, params];
}

/** Locates the parts of a DER CertificationRequest; DerReadError when it is not one. */
export function readCertificationRequest(der: Uint8Array): CertificationRequestParts {
  const outer = expectTag(readWhole(der), SEQUENCE, "CertificationRequest");
  const [infoEl, algEl, sigEl, extra] = readChildren(der, outer);
  if (extra !== undefined) fail("CertificationRequest: three elements");
  const info = expectTag(infoEl, SEQUENCE, "certificationRequestInfo");
  const [versionEl, subjectEl, spkiEl, attributesEl, infoExtra] = readChildren(der, info);
  if (infoExtra !== undefined) fail("certificationRequestInfo: at most four elements");
  const versionContent = elementContent(der, expectTag(versionEl, INTEGER, "version"));
  if (versionContent.length === 0) fail("version: empty INTEGER");
  const subject = expectTag(subjectEl, SEQUENCE, "subject");
  checkName(der, subject);
  const spki = expectTag(spkiEl, SEQUENCE, "subjectPKInfo");
  checkSpki(der, spki);
  if (attributesEl !== undefined) checkAttributes(der, expectTag(attributesEl, ATTRIBUTES, "attributes"));

  const [oidEl, paramsEl] = checkAlgorithmIdentifier(der, expectTag(algEl, SEQUENCE, "signatureAlgorithm"));
  const sig = expectTag(sigEl, BIT_STRING, "signature");
  checkInner(der, sig);
  const bits = elementContent(der, sig);

  return {
    info: elementBytes(der, info),
    version: versionContent.length === 1 && versionContent[0]! < 0x80 ? versionContent[0]! : -1,
    subject: elementBytes(der, subject),
    spki: elementBytes(der, spki),
    signatureAlgorithmOid: elementBytes(der, oidEl),
    signatureAlgorithmParameters: paramsEl === undefined ? "absent" : paramsEl.tag === NULL && paramsEl.end === paramsEl.contentStart ? "null" : "other",
    signatureUnusedBits: bits[0]!,
    signature: bits.subarray(1),
  };
}
