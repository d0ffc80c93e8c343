import { type DerElement, elementContent, readChildren, readWhole } from "./der-reader.js";
import { oidDer } from "./general-names.js";

/**
 * Strict reading of what a PKCS#10 request says, beyond its structure (issue 12, as Boulder's CSR
 * checks and Go's parser do): ca/x509/certification-request.ts locates the parts exactly as pkijs
 * would; this refuses what a well-behaved card never sends and a parser downstream might read
 * differently:
 *
 * - subject strings: only the X.520 string types (UTF8String, PrintableString, IA5String,
 *   VisibleString, NumericString, BMPString, UniversalString), each holding what its type allows
 *   (PrintableString's 74 characters, 7-bit IA5, valid UTF-8/UTF-16/UTF-32 without surrogates), and
 *   no control characters in any (log and display injection); TeletexString is refused (T.61 has no
 *   reliable mapping, RFC 5280 §4.1.2.4 says SHOULD NOT);
 * - attributes (RFC 2986 §4.1, RFC 2985 §5.4.2): each type at most once; the extensionRequest holds
 *   exactly one value, a SEQUENCE OF Extension (RFC 5280 §4.1);
 * - extensions: well-formed (extnID, DER BOOLEAN critical, OCTET STRING), each extnID at most once
 *   (RFC 5280 §4.2), and no critical extension this CA does not understand (RFC 5280 §4.2: an
 *   unrecognized critical extension must be rejected).
 *
 * The CA builds the certificate from its own profile and ignores the requested subject and
 * extensions; refusing these still matters: the request is stored and audited as received.
 */

/** What is wrong: "malformed" (400, the request is garbled) or "refused" (422, well-formed but not accepted). */
export interface CsrContentProblem {
  readonly kind: "malformed" | "refused";
  readonly rule: string;
}

const hex = (oid: string): string => Buffer.from(oidDer(oid)).toString("hex");

const EXTENSION_REQUEST = new Set([hex("1.2.840.113549.1.9.14"), hex("1.3.6.1.4.1.311.2.1.14")]);

/** Extensions the CA understands (and ignores: it writes its own): critical ones of other types are refused. */
const UNDERSTOOD_EXTENSIONS = new Set(
  [
    "2.5.29.14", // subjectKeyIdentifier
    "2.5.29.15", // keyUsage
    "2.5.29.17", // subjectAltName
    "2.5.29.19", // basicConstraints
    "2.5.29.37", // extKeyUsage
  ].map(hex),
);

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
const NUMERIC = /^[0-9 ]*$/;
/** C0 and C1 controls and DEL: never in a name (they reach logs and screens). */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf16 = new TextDecoder("utf-16be", { fatal: true });

/** The text of a subject string value, or undefined when its type is not allowed or its contents are invalid. */
function directoryString(tag: number, c: Uint8Array): string | undefined {
  const latin1 = (): string => Buffer.from(c).toString("latin1");
  try {
    switch (tag) {
      case 0x0c: // UTF8String
        return utf8.decode(c);
      case 0x13: // PrintableString
        return PRINTABLE.test(latin1()) ? latin1() : undefined;
      case 0x12: // NumericString
        return NUMERIC.test(latin1()) ? latin1() : undefined;
      case 0x16: // IA5String
        return c.every((b) => b < 0x80) ? latin1() : undefined;
      case 0x1a: // VisibleString
        return c.every((b) => b >= 0x20 && b < 0x7f) ? latin1() : undefined;
      case 0x1e: // BMPString (UCS-2: no surrogates at all)
        if (c.length % 2 !== 0) return undefined;
        for (let i = 0; i < c.length; i += 2) if (c[i]! >= 0xd8 && c[i]! <= 0xdf) return undefined;
        return utf16.decode(c);
      case 0x1c: {
        // UniversalString (UCS-4)
        if (c.length % 4 !== 0) return undefined;
        let s = "";
        for (let i = 0; i < c.length; i += 4) {
          const cp = ((c[i]! << 24) | (c[i + 1]! << 16) | (c[i + 2]! << 8) | c[i + 3]!) >>> 0;
          if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
          s += String.fromCodePoint(cp);
        }
        return s;
      }
      default:
        return undefined; // TeletexString, non-string types
    }
  } catch {
    return undefined; // invalid UTF-8 / UTF-16
  }
}

function checkSubject(der: Uint8Array, subject: DerElement): CsrContentProblem | undefined {
  for (const rdn of readChildren(der, subject)) {
    for (const atv of readChildren(der, rdn)) {
      const [, value] = readChildren(der, atv);
      if (value === undefined) return { kind: "malformed", rule: "subject: an attribute without a value" };
      const text = directoryString(value.tag, elementContent(der, value));
      if (text === undefined) return { kind: "malformed", rule: "subject: a string of a type not accepted or with invalid characters for its type" };
      if (CONTROL.test(text)) return { kind: "malformed", rule: "subject: a string with control characters" };
    }
  }
  return undefined;
}

function checkExtensions(der: Uint8Array, extensions: DerElement): CsrContentProblem | undefined {
  if (extensions.tag !== 0x30) return { kind: "malformed", rule: "extensionRequest: must be a SEQUENCE OF Extension" };
  const seen = new Set<string>();
  for (const ext of readChildren(der, extensions)) {
    if (ext.tag !== 0x30) return { kind: "malformed", rule: "extensionRequest: an extension that is not a SEQUENCE" };
    const parts = readChildren(der, ext);
    const id = parts[0];
    const critical = parts.length === 3 ? parts[1] : undefined;
    const value = parts[parts.length - 1];
    if (id?.tag !== 0x06 || value?.tag !== 0x04 || parts.length < 2 || parts.length > 3 || (parts.length === 3 && critical?.tag !== 0x01)) {
      return { kind: "malformed", rule: "extensionRequest: an extension is not { extnID, critical BOOLEAN OPTIONAL, extnValue OCTET STRING }" };
    }
    const criticalByte = critical ? elementContent(der, critical) : undefined;
    if (criticalByte && (criticalByte.length !== 1 || (criticalByte[0] !== 0x00 && criticalByte[0] !== 0xff))) {
      return { kind: "malformed", rule: "extensionRequest: critical is not a DER BOOLEAN" };
    }
    const key = Buffer.from(elementContent(der, id)).toString("hex");
    const oidHex = Buffer.from(der.subarray(id.start, id.end)).toString("hex");
    if (seen.has(key)) return { kind: "malformed", rule: "extensionRequest: an extension appears twice (RFC 5280 §4.2)" };
    seen.add(key);
    if (criticalByte?.[0] === 0xff && !UNDERSTOOD_EXTENSIONS.has(oidHex)) {
      return { kind: "refused", rule: "extensionRequest: a critical extension this CA does not recognize (RFC 5280 §4.2)" };
    }
  }
  return undefined;
}

function checkAttributes(der: Uint8Array, attributes: DerElement): CsrContentProblem | undefined {
  const seen = new Set<string>();
  for (const attribute of readChildren(der, attributes)) {
    const [type, values] = readChildren(der, attribute);
    if (type === undefined || values === undefined) return { kind: "malformed", rule: "attributes: an attribute without type or values" };
    const typeHex = Buffer.from(der.subarray(type.start, type.end)).toString("hex");
    if (seen.has(typeHex)) return { kind: "malformed", rule: "attributes: an attribute type appears twice" };
    seen.add(typeHex);
    if (!EXTENSION_REQUEST.has(typeHex)) continue;
    const inner = readChildren(der, values);
    if (inner.length !== 1) return { kind: "malformed", rule: "extensionRequest: must hold exactly one value" };
    const problem = checkExtensions(der, inner[0]!);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * Checks the subject strings, attributes and requested extensions of a DER CertificationRequest that
 * readCertificationRequest already accepted (so its structure is known to be sound). Returns the first
 * problem, or undefined.
 */
export function checkCertificationRequestContents(der: Uint8Array): CsrContentProblem | undefined {
  const [info] = readChildren(der, readWhole(der));
  const [, subject, , attributes] = readChildren(der, info!);
  return checkSubject(der, subject!) ?? (attributes === undefined ? undefined : checkAttributes(der, attributes));
}
