import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { CaError } from "../errors.js";

/**
 * X.501 distinguished names, built the RFC 5280 way: `SEQUENCE OF SET { one AttributeTypeAndValue }`,
 * in the order given. pkijs' own `RelativeDistinguishedNames({ typesAndValues })` would put every
 * attribute into ONE multi-valued RDN (`C=JP + O=… + CN=…`, docs/traps.md §3 trap 3), so the DER is built
 * here and wrapped with `RelativeDistinguishedNames.fromBER`.
 */

/** Short names of the attributes the CA uses (RFC 5280 §4.1.2.4, X.520). */
export const nameAttributeOids = Object.freeze({
  C: "2.5.4.6",
  ST: "2.5.4.8",
  L: "2.5.4.7",
  O: "2.5.4.10",
  OU: "2.5.4.11",
  CN: "2.5.4.3",
} as const);

export type NameAttributeShortName = keyof typeof nameAttributeOids;

/** An attribute type: a short name above or a dotted OID. */
export type NameAttributeType = NameAttributeShortName | (string & {});

export interface NameAttribute {
  readonly type: NameAttributeType;
  readonly value: string;
  /** Forces the string type; by default C and ASCII-printable values are PrintableString, others UTF8String. */
  readonly stringType?: "printable" | "utf8";
}

/** A built name: the pkijs object for a TBS and its DER. */
export interface EncodedName {
  readonly rdns: pkijs.RelativeDistinguishedNames;
  readonly der: Uint8Array;
}

/** One attribute read back from a name (flattened: a multi-valued RDN yields several entries). */
export interface ReadNameAttribute {
  /** Short name when known, else the OID. */
  readonly type: string;
  readonly oid: string;
  readonly value: string;
  /** asn1js block name of the string type, e.g. "PrintableString", "UTF8String". */
  readonly stringType: string;
}

/**
 * Upper bounds in characters (RFC 5280 Appendix A.1: ub-common-name 64, ub-organization-name 64,
 * ub-organizational-unit-name 64, ub-locality-name 128, ub-state-name 128; countryName is exactly 2).
 */
const upperBounds: Readonly<Record<NameAttributeShortName, number>> = { C: 2, ST: 128, L: 128, O: 64, OU: 64, CN: 64 };

/** PrintableString alphabet (X.680 §41.4 table 10). */
const printable = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
const oidPattern = /^[0-2](\.(0|[1-9][0-9]*))+$/;
const controlChars = /[\u0000-\u001f\u007f]/;

/** Universal tag number → string type name (X.680 §8.4). */
const stringTypeNames: Readonly<Record<number, string>> = {
  12: "UTF8String",
  19: "PrintableString",
  20: "TeletexString",
  22: "IA5String",
  28: "UniversalString",
  30: "BMPString",
};

const shortNameByOid = new Map<string, string>(Object.entries(nameAttributeOids).map(([k, v]) => [v, k]));

/** True if `value` can be a PrintableString. */
export function isPrintableString(value: string): boolean {
  return printable.test(value);
}

function attributeOid(type: NameAttributeType): string {
  if (Object.hasOwn(nameAttributeOids, type)) return nameAttributeOids[type as NameAttributeShortName];
  if (oidPattern.test(type)) return type;
  throw new CaError("invalid-input", `unknown name attribute type ${JSON.stringify(type)}`, { field: "name" });
}

/** The string value as asn1js, validated. Messages name the attribute type, never the value. */
function attributeValue(attr: NameAttribute, oid: string): asn1js.PrintableString | asn1js.Utf8String {
  const label = shortNameByOid.get(oid) ?? oid;
  const { value } = attr;
  if (value.length === 0) throw new CaError("invalid-input", `empty ${label} in name`, { field: "name" });
  if (controlChars.test(value)) throw new CaError("invalid-input", `control character in ${label}`, { field: "name" });
  const bound = upperBounds[label as NameAttributeShortName];
  if (bound !== undefined && [...value].length > bound) {
    throw new CaError("invalid-input", `${label} longer than ${bound} characters (RFC 5280 Appendix A)`, { field: "name" });
  }
  if (label === "C") {
    // RFC 5280 Appendix A: countryName is PrintableString (SIZE (2)), ISO 3166 alpha-2.
    if (!/^[A-Z]{2}$/.test(value)) throw new CaError("invalid-input", "C must be two upper-case letters", { field: "name" });
    if (attr.stringType === "utf8") throw new CaError("invalid-input", "C must be a PrintableString", { field: "name" });
    return new asn1js.PrintableString({ value });
  }
  const type = attr.stringType ?? (isPrintableString(value) ? "printable" : "utf8");
  if (type === "printable") {
    if (!isPrintableString(value)) {
      throw new CaError("invalid-input", `${label} has characters outside PrintableString`, { field: "name" });
    }
    return new asn1js.PrintableString({ value });
  }
  return new asn1js.Utf8String({ value });
}

/** DER of a Name with one attribute per RDN, in the given order. */
export function encodeName(attributes: readonly NameAttribute[]): Uint8Array {
  if (attributes.length === 0) throw new CaError("invalid-input", "empty distinguished name", { field: "name" });
  const rdns = attributes.map((attr) => {
    const type = attributeOid(attr.type);
    const atv = new pkijs.AttributeTypeAndValue({ type, value: attributeValue(attr, type) });
    return new asn1js.Set({ value: [atv.toSchema()] });
  });
  return new Uint8Array(new asn1js.Sequence({ value: rdns }).toBER(false));
}

/** Builds a Name (RFC 5280 §4.1.2.4) from an ordered attribute list: the pkijs object and its DER. */
export function buildName(attributes: readonly NameAttribute[]): EncodedName {
  const der = encodeName(attributes);
  return { der, rdns: pkijs.RelativeDistinguishedNames.fromBER(der.slice().buffer) };
}

/** The DER of a pkijs name as it will be encoded (the decoded bytes when it was parsed). */
export function nameDer(name: pkijs.RelativeDistinguishedNames): Uint8Array {
  return new Uint8Array(name.toSchema().toBER(false));
}

/** Reads a Name back, in order, one entry per attribute. */
export function readName(name: pkijs.RelativeDistinguishedNames | Uint8Array): ReadNameAttribute[] {
  const der = name instanceof Uint8Array ? name : nameDer(name);
  const parsed = asn1js.fromBER(der.slice().buffer);
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.Sequence)) {
    throw new CaError("invalid-input", "malformed distinguished name", { field: "name" });
  }
  const out: ReadNameAttribute[] = [];
  for (const rdn of parsed.result.valueBlock.value) {
    if (!(rdn instanceof asn1js.Set)) throw new CaError("invalid-input", "malformed RDN", { field: "name" });
    for (const atvSchema of rdn.valueBlock.value) {
      const atv = new pkijs.AttributeTypeAndValue({ schema: atvSchema });
      const value = atv.value as asn1js.BaseBlock & { valueBlock: { value?: unknown } };
      const tag = value.idBlock.tagClass === 1 ? value.idBlock.tagNumber : -1;
      out.push({
        type: shortNameByOid.get(atv.type) ?? atv.type,
        oid: atv.type,
        value: typeof value.valueBlock.value === "string" ? value.valueBlock.value : "",
        stringType: stringTypeNames[tag] ?? "other",
      });
    }
  }
  return out;
}

/** "C=JP, O=JPKI, OU=…" in encoding order (the way docs/domain.md and `openssl -nameopt` print names). */
export function formatName(name: pkijs.RelativeDistinguishedNames | Uint8Array): string {
  return readName(name)
    .map((a) => `${a.type}=${a.value}`)
    .join(", ");
}
