import { isIP } from "node:net";
import * as asn1js from "asn1js";
import { CaError } from "../errors.js";
import { derConcat, derContext, derSequence, derTlv, DerTag } from "./der.js";
import { encodeName, type NameAttribute } from "./name.js";

/**
 * GeneralName (RFC 5280 §4.2.1.6), encoded straight to DER.
 *
 * pkijs `GeneralName({ type: 0 })` wraps an otherName in one `[0]` too many (docs/traps.md §3 trap 8), so
 * the CHOICE is written here for every alternative the CA uses.
 */
export type GeneralNameInput =
  /** `[0] { type-id, [0] EXPLICIT UTF8String }` (the JPKI personal-data form, docs/domain.md §2). */
  | { readonly type: "otherName"; readonly typeId: string; readonly value: string }
  | { readonly type: "rfc822Name"; readonly value: string }
  | { readonly type: "dNSName"; readonly value: string }
  /** An ordered attribute list, or the DER of a Name. */
  | { readonly type: "directoryName"; readonly name: readonly NameAttribute[] | Uint8Array }
  | { readonly type: "uniformResourceIdentifier"; readonly value: string }
  /** Textual IPv4 ("127.0.0.1") or IPv6 ("::1"); encoded as 4 or 16 octets. */
  | { readonly type: "iPAddress"; readonly value: string };

/** DER of an OBJECT IDENTIFIER. */
export function oidDer(oid: string): Uint8Array {
  if (!/^[0-2](\.(0|[1-9][0-9]*))+$/.test(oid)) throw new CaError("invalid-input", `malformed OID ${oid}`);
  return new Uint8Array(new asn1js.ObjectIdentifier({ value: oid }).toBER(false));
}

function ia5(value: string, what: string): Uint8Array {
  // IA5String is 7-bit ASCII (X.680 §41); RFC 5280 additionally forbids empty names.
  if (value.length === 0 || !/^[\x20-\x7e]*$/.test(value)) {
    throw new CaError("invalid-input", `${what} must be non-empty printable ASCII`);
  }
  return new TextEncoder().encode(value);
}

/** The DER of one GeneralName. */
export function generalNameDer(name: GeneralNameInput): Uint8Array {
  switch (name.type) {
    case "otherName": {
      if (name.value.length === 0) throw new CaError("invalid-input", `empty otherName ${name.typeId}`);
      const utf8 = derTlv(DerTag.utf8String, new TextEncoder().encode(name.value));
      // OtherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }, itself under [0] IMPLICIT.
      return derContext(0, derConcat(oidDer(name.typeId), derContext(0, utf8, true)), true);
    }
    case "rfc822Name":
      return derContext(1, ia5(name.value, "rfc822Name"), false);
    case "dNSName":
      if (!/^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(name.value)) {
        throw new CaError("invalid-input", "dNSName is not a preferred name syntax host name (RFC 5280 §4.2.1.6)");
      }
      return derContext(2, ia5(name.value, "dNSName"), false);
    case "directoryName": {
      // Name is a CHOICE, so the [4] tag is EXPLICIT (RFC 5280 Appendix A.2 uses IMPLICIT by default
      // except for CHOICE types).
      const der = name.name instanceof Uint8Array ? name.name : encodeName(name.name);
      return derContext(4, der, true);
    }
    case "uniformResourceIdentifier":
      return derContext(6, ia5(name.value, "URI"), false);
    case "iPAddress":
      return derContext(7, ipAddressOctets(name.value), false);
  }
}

/** GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName. */
export function generalNamesDer(names: readonly GeneralNameInput[]): Uint8Array {
  if (names.length === 0) throw new CaError("invalid-input", "GeneralNames must not be empty (RFC 5280 §4.2.1.6)");
  return derSequence(...names.map(generalNameDer));
}

/** Network-order octets of a textual IPv4 (4) or IPv6 (16, RFC 4291 §2.2 forms incl. embedded IPv4). */
export function ipAddressOctets(text: string): Uint8Array {
  const family = isIP(text);
  if (family === 4) return Uint8Array.from(text.split(".").map(Number));
  if (family !== 6 || text.includes("%")) throw new CaError("invalid-input", "iPAddress is not an IPv4 or IPv6 address");
  let head = text;
  let tail4: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    tail4 = text.slice(lastColon + 1).split(".").map(Number);
    head = text.slice(0, lastColon + 1) + "0:0"; // placeholder groups, replaced below
  }
  const [left = "", right] = head.split("::") as [string, string | undefined];
  const groups = (s: string): number[] => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  const l = groups(left);
  const r = right === undefined ? [] : groups(right);
  const all = right === undefined ? l : [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  if (tail4.length === 4) out.set(tail4, 12);
  return out;
}
