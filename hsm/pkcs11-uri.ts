import { CaError } from "../ca/errors.js";

/**
 * RFC 7512 `pkcs11:` URIs: parse and format.
 *
 * We name CA keys `pkcs11:token=jpki-ca;object=sign-g1;type=private`. The parser accepts every
 * standard attribute of RFC 7512 §2.3 so URIs written by other tools (p11-kit, OpenSSL's pkcs11
 * provider) are understood; the facade only acts on token, object, id and type.
 *
 * Error messages name the attribute, never its value: a URI may carry `pin-value` (docs/design.md invariant 5).
 */

/** RFC 7512 §2.3 `pk11-type`. */
export type Pkcs11ObjectType = "public" | "private" | "cert" | "secret-key" | "data";

/** A parsed PKCS#11 URI. Absent attributes are `undefined`; strings are percent-decoded UTF-8. */
export interface Pkcs11Uri {
  // path attributes (RFC 7512 §2.3)
  readonly token?: string;
  readonly manufacturer?: string;
  readonly serial?: string;
  readonly model?: string;
  readonly libraryManufacturer?: string;
  readonly libraryDescription?: string;
  readonly libraryVersion?: string;
  readonly object?: string;
  readonly type?: Pkcs11ObjectType;
  /** CKA_ID: raw bytes (RFC 7512 §2.3: "id" is a percent-encoded byte string). */
  readonly id?: Uint8Array;
  readonly slotDescription?: string;
  readonly slotManufacturer?: string;
  readonly slotId?: number;
  // query attributes
  readonly pinSource?: string;
  readonly pinValue?: string;
  readonly moduleName?: string;
  readonly modulePath?: string;
  /** Vendor-specific path attributes (`x-…`), by name. */
  readonly vendor?: Readonly<Record<string, string>>;
  /** Vendor-specific query attributes (`x-…`), by name. */
  readonly vendorQuery?: Readonly<Record<string, string>>;
}

type Kind = "string" | "bytes" | "type" | "digits" | "version";
type Field = Exclude<keyof Pkcs11Uri, "vendor" | "vendorQuery">;
interface AttrDef {
  readonly field: Field;
  readonly kind: Kind;
  readonly query: boolean;
}

/** Attribute names in the order RFC 7512 §2.3 lists them; formatting follows this order. */
const attributes: ReadonlyArray<readonly [string, AttrDef]> = [
  ["token", { field: "token", kind: "string", query: false }],
  ["manufacturer", { field: "manufacturer", kind: "string", query: false }],
  ["serial", { field: "serial", kind: "string", query: false }],
  ["model", { field: "model", kind: "string", query: false }],
  ["library-manufacturer", { field: "libraryManufacturer", kind: "string", query: false }],
  ["library-version", { field: "libraryVersion", kind: "version", query: false }],
  ["library-description", { field: "libraryDescription", kind: "string", query: false }],
  ["object", { field: "object", kind: "string", query: false }],
  ["type", { field: "type", kind: "type", query: false }],
  ["id", { field: "id", kind: "bytes", query: false }],
  ["slot-description", { field: "slotDescription", kind: "string", query: false }],
  ["slot-manufacturer", { field: "slotManufacturer", kind: "string", query: false }],
  ["slot-id", { field: "slotId", kind: "digits", query: false }],
  ["pin-source", { field: "pinSource", kind: "string", query: true }],
  ["pin-value", { field: "pinValue", kind: "string", query: true }],
  ["module-name", { field: "moduleName", kind: "string", query: true }],
  ["module-path", { field: "modulePath", kind: "string", query: true }],
];
const byName = new Map(attributes);
const objectTypes: ReadonlySet<string> = new Set(["public", "private", "cert", "secret-key", "data"]);

// RFC 7512 §2.3: pk11-res-avail; the path also allows "&", the query also allows "/", "?", "|" (and ";").
const unreserved = /[A-Za-z0-9\-._~]/;
const resAvail = ":[]@!$'()*+,=";
const pathChars = resAvail + "&";
const queryChars = resAvail + "/?|;";
const vendorName = /^x-[A-Za-z0-9\-_]+$/;

function fail(message: string): never {
  throw new CaError("invalid-input", `invalid PKCS#11 URI: ${message}`, { field: "keyUri" });
}

/** Percent-decodes one attribute value, refusing characters RFC 7512 requires to be encoded. */
function decodeBytes(raw: string, name: string, query: boolean): Uint8Array {
  const allowed = query ? queryChars : pathChars;
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charAt(i);
    if (c === "%") {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) fail(`bad percent-encoding in "${name}"`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (unreserved.test(c) || allowed.includes(c)) {
      out.push(c.charCodeAt(0));
    } else {
      fail(`character not allowed unencoded in "${name}"`);
    }
  }
  return Uint8Array.from(out);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
function decodeString(raw: string, name: string, query: boolean): string {
  try {
    return utf8.decode(decodeBytes(raw, name, query));
  } catch (e) {
    if (e instanceof CaError) throw e;
    return fail(`"${name}" is not valid UTF-8`);
  }
}

/**
 * Parses an RFC 7512 URI. Throws `CaError("invalid-input")` for a wrong scheme, an unknown or repeated
 * attribute, bad percent-encoding, a bad `type`/`slot-id`/`library-version`, or both `pin-source`
 * and `pin-value` (RFC 7512 §2.3: they must not be used together).
 */
export function parsePkcs11Uri(text: string): Pkcs11Uri {
  if (typeof text !== "string" || !text.startsWith("pkcs11:")) fail('must start with "pkcs11:"');
  const rest = text.slice("pkcs11:".length);
  if (rest.includes("#")) fail("fragments are not allowed");
  const q = rest.indexOf("?");
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? "" : rest.slice(q + 1);

  const result: Record<string, unknown> = {};
  const vendor: Record<string, string> = {};
  const vendorQuery: Record<string, string> = {};
  const seen = new Set<string>();

  const take = (part: string, isQuery: boolean): void => {
    if (part === "") fail(isQuery ? "empty query attribute" : "empty path attribute");
    const eq = part.indexOf("=");
    if (eq <= 0) fail(`an attribute in the ${isQuery ? "query" : "path"} has no "name="`);
    const name = part.slice(0, eq);
    const raw = part.slice(eq + 1);
    if (seen.has(name)) fail(`attribute "${name}" appears more than once`);
    seen.add(name);
    if (vendorName.test(name)) {
      (isQuery ? vendorQuery : vendor)[name] = decodeString(raw, name, isQuery);
      return;
    }
    const def = byName.get(name);
    if (!def) fail(`unknown attribute "${name.slice(0, 40)}"`);
    if (def.query !== isQuery) fail(`attribute "${name}" belongs in the ${def.query ? "query" : "path"}`);
    switch (def.kind) {
      case "bytes":
        result[def.field] = decodeBytes(raw, name, isQuery);
        return;
      case "type": {
        const v = decodeString(raw, name, isQuery);
        if (!objectTypes.has(v)) fail(`"type" must be one of public, private, cert, secret-key, data`);
        result[def.field] = v;
        return;
      }
      case "digits": {
        if (!/^[0-9]{1,15}$/.test(raw)) fail(`"${name}" must be a decimal number`);
        result[def.field] = Number(raw);
        return;
      }
      case "version": {
        if (!/^[0-9]+(\.[0-9]+)?$/.test(raw)) fail(`"${name}" must look like 1 or 1.2`);
        result[def.field] = raw;
        return;
      }
      case "string":
        result[def.field] = decodeString(raw, name, isQuery);
        return;
    }
  };

  if (path !== "") for (const part of path.split(";")) take(part, false);
  if (query !== "") for (const part of query.split("&")) take(part, true);
  if (result["pinSource"] !== undefined && result["pinValue"] !== undefined) {
    fail('"pin-source" and "pin-value" must not be used together');
  }
  if (Object.keys(vendor).length > 0) result["vendor"] = Object.freeze(vendor);
  if (Object.keys(vendorQuery).length > 0) result["vendorQuery"] = Object.freeze(vendorQuery);
  return Object.freeze(result) as Pkcs11Uri;
}

/**
 * Percent-encodes every byte outside RFC 3986 `unreserved` (always valid, RFC 7512 §2.3), except
 * ":" and "/" in query values, which RFC 7512 lets stand so `module-path=/usr/lib/…` stays readable.
 */
function encodeBytes(bytes: Uint8Array, mode: "all" | "path" | "query"): string {
  let s = "";
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    const plain = mode !== "all" && b < 0x80 && (unreserved.test(c) || (mode === "query" && (c === ":" || c === "/")));
    s += plain ? c : "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return s;
}
const utf8Encoder = new TextEncoder();

/**
 * Formats a URI: path attributes in RFC 7512 order joined by ";", query attributes joined by "&".
 * `id` is always fully percent-encoded (it is binary, RFC 7512 §2.3). A `pin-value` is written if
 * present: do not format URIs holding a PIN into anything that gets logged.
 */
export function formatPkcs11Uri(uri: Pkcs11Uri): string {
  const path: string[] = [];
  const query: string[] = [];
  for (const [name, def] of attributes) {
    const v = uri[def.field];
    if (v === undefined) continue;
    let encoded: string;
    if (def.kind === "bytes") encoded = encodeBytes(v as Uint8Array, "all");
    else if (def.kind === "digits") {
      if (!Number.isSafeInteger(v) || (v as number) < 0) fail(`"${name}" must be a non-negative integer`);
      encoded = String(v);
    } else {
      const s = String(v);
      if (def.kind === "type" && !objectTypes.has(s)) fail(`"type" must be one of public, private, cert, secret-key, data`);
      if (def.kind === "version" && !/^[0-9]+(\.[0-9]+)?$/.test(s)) fail(`"${name}" must look like 1 or 1.2`);
      encoded = encodeBytes(utf8Encoder.encode(s), def.query ? "query" : "path");
    }
    (def.query ? query : path).push(`${name}=${encoded}`);
  }
  if (uri.pinSource !== undefined && uri.pinValue !== undefined) {
    fail('"pin-source" and "pin-value" must not be used together');
  }
  for (const [list, attrs, mode] of [[path, uri.vendor, "path"], [query, uri.vendorQuery, "query"]] as const) {
    for (const [name, value] of Object.entries(attrs ?? {})) {
      if (!vendorName.test(name)) fail("vendor attribute names must match x-[A-Za-z0-9-_]+");
      list.push(`${name}=${encodeBytes(utf8Encoder.encode(value), mode)}`);
    }
  }
  return "pkcs11:" + path.join(";") + (query.length > 0 ? "?" + query.join("&") : "");
}

/** The URI we give a private key: `pkcs11:token=<token>;object=<label>;type=private`. */
export function privateKeyUri(token: string, label: string): string {
  return formatPkcs11Uri({ token, object: label, type: "private" });
}
