import { z } from "zod";
import { parseIsoDate } from "../ca/calendar-date.js";
import { IDEOGRAPHIC_SPACE, codePointLength, isFullWidthText } from "../ca/residents/full-width.js";
import { firstUnsubstitutedOutsideJis } from "../ca/residents/jis-x0208.js";
import { isResidentEventType, type ResidentEvent, type ResidentEventType } from "../ca/residents/resident-event.js";
import { isMunicipalityCode, residentFieldLimits } from "../ca/residents/resident-fields.js";
import { sha256Hex } from "../ca/sha256.js";

/**
 * docs/api.md §5: one schema on every transport. Turns an event as received (bytes from NATS or a file
 * line, or a JSON value from the HTTP batch) into a typed ResidentEvent, or into a rejection with a
 * reason that names the rule and the field, never a value (docs/design.md invariant 6).
 *
 * Idempotency key: a valid event's `eventId`. A rejected event is keyed by the SHA-256 of its bytes
 * (`sha256:<hex>`), so an identical resend is a duplicate while a corrected resend under the same
 * eventId is applied; the rejected one stays stored for the operators either way.
 */

/** Events over this size are rejected (`too-large`) without being parsed (a resident event is ~1 kB). */
export const MAX_EVENT_BYTES = 64 * 1024;
/** How much of a rejected event is stored for inspection and replay (the rest is cut; rawSize keeps the size). */
export const MAX_STORED_RAW_BYTES = 1024 * 1024;

/** An event as a transport received it. */
export type RawEvent = { readonly bytes: Uint8Array } | { readonly text: string } | { readonly json: unknown };

export interface ValidEvent {
  readonly ok: true;
  readonly key: string;
  readonly event: ResidentEvent;
  readonly size: number;
}

export interface RejectedEvent {
  readonly ok: false;
  readonly key: string;
  /** What could be read of the envelope, for listing (each only when well-formed). */
  readonly eventId: string | null;
  readonly residentCode: string | null;
  readonly type: ResidentEventType | null;
  readonly effectiveDate: string | null;
  /** A code, then the field and the rule: `invalid-field: effectiveDate: must be an ISO date YYYY-MM-DD`. */
  readonly reason: string;
  /** The event as received (cut at MAX_STORED_RAW_BYTES). */
  readonly raw: string;
  readonly size: number;
}

export type ParsedEvent = ValidEvent | RejectedEvent;

const EVENT_ID = /^[\x21-\x7e]{1,128}$/;

const isoDate = z.string().refine((s) => parseIsoDate(s) !== undefined, "must be an ISO date YYYY-MM-DD");
/** A date of birth: 明治 (1868) onwards, as in ca/residents/resident-fields.ts (EARLIEST_DATE_OF_BIRTH). */
const birthDate = isoDate.refine((s) => s >= "1868-01-01", "must not be before 1868-01-01");

function fullWidth(max: number) {
  return z
    .string()
    .min(1, "must not be empty")
    .refine(isFullWidthText, "must contain full-width characters only")
    .refine((t) => !t.startsWith(IDEOGRAPHIC_SPACE) && !t.endsWith(IDEOGRAPHIC_SPACE), "must not start or end with a space")
    .refine((t) => codePointLength(t) <= max, `must be at most ${max} characters`);
}

const name = fullWidth(residentFieldLimits.name).refine(
  (t) => t.split(IDEOGRAPHIC_SPACE).length === 2,
  "must separate surname and given name with exactly one full-width space U+3000",
);
const flags = z.string().regex(/^[01]*$/, "must contain only the digits 0 and 1");

const fields = {
  name,
  nameSubstituteFlags: flags,
  alias: fullWidth(residentFieldLimits.alias).nullable(),
  aliasSubstituteFlags: flags.nullable(),
  dateOfBirth: birthDate,
  gender: z.union([z.literal(1), z.literal(2), z.literal(3)], { error: "must be 1 (male), 2 (female) or 3 (unknown)" }),
  address: fullWidth(residentFieldLimits.address),
  addressSubstituteFlags: flags,
};
const anyFields = z.strictObject(fields).partial();
/** The municipality a move leads to (全国地方公共団体コード, JIS X 0402 check digit). */
const municipalityCode = z.string().refine(isMunicipalityCode, "must be a 6-digit municipality code with a valid check digit");

const changesOfType: Readonly<Record<ResidentEventType, z.ZodType<Record<string, unknown>>>> = {
  ADDRESS_CHANGED: z.strictObject({ address: fields.address, addressSubstituteFlags: flags, municipalityCode: municipalityCode.optional() }),
  NAME_CHANGED: z.strictObject({ name, nameSubstituteFlags: flags }),
  ALIAS_CHANGED: z.strictObject({ alias: fields.alias, aliasSubstituteFlags: flags.nullable().optional() }),
  GENDER_CHANGED: z.strictObject({ gender: fields.gender }),
  BIRTHDATE_CORRECTED: z.strictObject({ dateOfBirth: birthDate }),
  MINOR_CORRECTION: anyFields.refine((c) => Object.keys(c).length > 0, "must correct at least one field"),
  RECORD_ERROR: anyFields,
  DECEASED: z.strictObject({}),
  REMOVED: z.strictObject({}),
  EMIGRATED: z.strictObject({}),
  // The overseas address, when the feed sends it, becomes the record's address.
  EMIGRATED_CONTINUED_USE: z.strictObject({ address: fields.address, addressSubstituteFlags: flags }).partial(),
  CARD_INVALIDATED: z.strictObject({ cardReplaced: z.boolean() }).partial(),
};

const envelope = z.strictObject({
  eventId: z.string().regex(EVENT_ID, "must be 1–128 visible ASCII characters"),
  residentCode: z.string().regex(/^\d{11}$/, "must be 11 digits"),
  type: z.string(),
  effectiveDate: isoDate,
  recordedAt: z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time with a time zone" }),
  changes: z.record(z.string(), z.unknown()).optional(),
});

/** docs/domain.md §2: a character outside JIS X 0208 arrives substituted, flag 1 (as in ca/residents/resident-fields.ts). */
function jisProblem(text: string, flags: string, field: string): string | undefined {
  const at = firstUnsubstitutedOutsideJis(text, flags);
  return at === undefined ? undefined : `changes.${field}: has a character outside JIS X 0208 at position ${at + 1} whose substitute flag is 0`;
}

/** Text and flags travel together; flags have one digit per character (docs/domain.md §2). */
function pairProblem(c: Record<string, unknown>): string | undefined {
  const pair = (text: string, flagKey: string, optionalFlags: boolean): string | undefined => {
    const t = c[text];
    const f = c[flagKey];
    if (t === undefined && f === undefined) return undefined;
    if (t === undefined || (t === null && f !== undefined && f !== null)) return `changes.${flagKey}: is only allowed together with changes.${text}`;
    if (t === null) return undefined;
    if (f === undefined || f === null) return optionalFlags ? jisProblem(t as string, "", text) : `changes.${flagKey}: is required together with changes.${text}`;
    if ((f as string).length !== codePointLength(t as string)) return `changes.${flagKey}: must have exactly one digit per character of changes.${text}`;
    return jisProblem(t as string, f as string, text);
  };
  return pair("name", "nameSubstituteFlags", false) ?? pair("address", "addressSubstituteFlags", false) ?? pair("alias", "aliasSubstituteFlags", true);
}

const sha256Key = (bytes: Uint8Array): string => `sha256:${sha256Hex(bytes)}`;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const lenientUtf8 = new TextDecoder("utf-8");

function cut(bytes: Uint8Array): string {
  return lenientUtf8.decode(bytes.length > MAX_STORED_RAW_BYTES ? bytes.subarray(0, MAX_STORED_RAW_BYTES) : bytes);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const readable = (v: unknown, re: RegExp): string | null => (typeof v === "string" && re.test(v) ? v : null);

export interface ParseOptions {
  /** Default MAX_EVENT_BYTES. */
  readonly maxBytes?: number;
  /** NATS `Nats-Msg-Id`: stream deduplication relies on it being the eventId (docs/api.md §5). */
  readonly msgId?: string;
}

/** Parses and validates one event. Never throws. */
export function parseResidentEvent(input: RawEvent, options: ParseOptions = {}): ParsedEvent {
  const maxBytes = options.maxBytes ?? MAX_EVENT_BYTES;
  let bytes: Uint8Array;
  let value: unknown;
  let parsedJson = false;
  if ("json" in input) {
    bytes = new TextEncoder().encode(JSON.stringify(input.json) ?? "null");
    value = input.json;
    parsedJson = true;
  } else {
    bytes = "bytes" in input ? input.bytes : new TextEncoder().encode(input.text);
  }
  const size = bytes.length;
  const rejected = (reason: string, v: unknown = undefined): RejectedEvent => {
    const o = isRecord(v) ? v : {};
    return {
      ok: false,
      key: sha256Key(bytes),
      eventId: readable(o.eventId, EVENT_ID),
      residentCode: readable(o.residentCode, /^\d{11}$/),
      type: isResidentEventType(o.type) ? o.type : null,
      effectiveDate: typeof o.effectiveDate === "string" && parseIsoDate(o.effectiveDate) ? o.effectiveDate : null,
      reason,
      raw: cut(bytes),
      size,
    };
  };
  if (size > maxBytes) return rejected(`too-large: ${size} bytes, at most ${maxBytes}`);
  if (!parsedJson) {
    let text: string;
    try {
      text = strictUtf8.decode(bytes);
    } catch {
      return rejected("malformed-json: not valid UTF-8");
    }
    try {
      value = JSON.parse(text);
    } catch {
      return rejected("malformed-json: not valid JSON");
    }
  }
  if (!isRecord(value)) return rejected("malformed-json: an event must be a JSON object", value);

  const env = envelope.safeParse(value);
  if (!env.success) return rejected(`invalid-field: ${issueText(env.error)}`, value);
  const e = env.data;
  if (!isResidentEventType(e.type)) return rejected("unknown-type: type is not one of docs/api.md §5", value);
  const changes = changesOfType[e.type].safeParse(e.changes ?? {});
  if (!changes.success) return rejected(`invalid-field: ${issueText(changes.error, "changes")}`, value);
  const pairing = pairProblem(changes.data);
  if (pairing) return rejected(`invalid-field: ${pairing}`, value);
  if (options.msgId !== undefined && options.msgId !== e.eventId) return rejected("invalid-field: Nats-Msg-Id: must equal eventId", value);

  return {
    ok: true,
    key: e.eventId,
    size,
    event: Object.freeze({
      eventId: e.eventId,
      residentCode: e.residentCode,
      type: e.type,
      effectiveDate: e.effectiveDate,
      recordedAt: new Date(e.recordedAt),
      changes: Object.freeze(changes.data),
    }),
  };
}

/** `field: rule` of the first issue (zod's messages name types and limits, never the value). */
function issueText(error: z.ZodError, prefix?: string): string {
  const issue = error.issues[0];
  const path = [prefix, ...(issue?.path ?? []).map(String)].filter((p) => p !== undefined && p !== "").join(".");
  // An unknown key is input too: name it only when it looks like a field name.
  if (issue?.code === "unrecognized_keys") {
    const keys = issue.keys.filter((k) => /^[A-Za-z][A-Za-z0-9_]{0,40}$/.test(k));
    return `${path || "event"}: unknown field${keys.length > 0 ? ` ${keys.join(", ")}` : ""}`;
  }
  return `${path || "event"}: ${issue?.message ?? "invalid"}`;
}
