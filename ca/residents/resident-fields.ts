/**
 * @packageDocumentation
 * ca/residents: the resident's data as the certificates carry it, and the CA's copy of the register.
 *
 * - resident-fields.ts (this file): the resident part of an issuance request, validated.
 * - full-width.ts, jis-x0208.ts: the character rules of name, alias and address.
 * - era.ts, alias-format.ts, municipality.ts: date of birth, alias and locality as encoded in certificates.
 * - resident-event.ts: the resident change events; resident-event-mirror.ts: the CA's copy they keep.
 * - resident-event-ports.ts: the ports of the event processor (events/).
 */
import { type CalendarDate, compareDates, jstDateOf, parseIsoDate } from "../calendar-date.js";
import { CaError } from "../errors.js";
import { IDEOGRAPHIC_SPACE, codePointLength, isFullWidthText } from "./full-width.js";
import { firstUnsubstitutedOutsideJis } from "./jis-x0208.js";

/**
 * The resident part of an issuance request (docs/api.md §4, docs/domain.md §2 and §5), validated by hand into
 * a typed value. Hand validation rather than zod: ca/ imports only pkijs, asn1js and node:crypto.
 *
 * Error mapping (the first problem found is thrown):
 * - CaError("invalid-input") (400): a missing field, a wrong type, a malformed date or code, a
 *   character that is not allowed, flags that are not 0/1 or do not match their text's length,
 *   an unknown gender code, a character outside JIS X 0208 whose substitute flag is 0 (it must
 *   arrive already replaced by its substitute character, flag 1: docs/domain.md §2);
 * - CaError("unprocessable") (422): well-formed but against a profile rule: over a length limit,
 *   a date of birth before 1868-01-01 (明治 1, the first era the profile's era digit encodes) or
 *   after the application date, an application date in the future, a card expiry not after the
 *   application date.
 * Messages name the field and the rule, never the value (docs/design.md invariant 6).
 */

/** Gender codes of otherName 1.2.392.200149.8.5.5.3: 1 male, 2 female, 3 unknown. */
export type Gender = 1 | 2 | 3;

/** A validated ISO 8601 calendar date, `YYYY-MM-DD`. */
export type IsoDate = string;

export interface ResidentFields {
  /** Full-width; surname and given name separated by exactly one U+3000. */
  readonly name: string;
  /** One `0`/`1` per code point of `name`. */
  readonly nameSubstituteFlags: string;
  /** 通称 of a foreign resident, full-width, or null. */
  readonly alias: string | null;
  /** One `0`/`1` per code point of `alias`; null when not given (then all `0`). Not in docs/api.md §4 yet. */
  readonly aliasSubstituteFlags: string | null;
  readonly dateOfBirth: IsoDate;
  readonly gender: Gender;
  /** Full-width, from the prefecture, at most 200 characters. */
  readonly address: string;
  readonly addressSubstituteFlags: string;
  readonly cardExpiry: IsoDate;
  /** 在留期間満了日 of a foreign resident, or null. */
  readonly residencePeriodEnd: IsoDate | null;
  readonly underGuardianship: boolean;
}

/** The parsed, typed resident application. */
export interface ResidentApplication {
  /** 全国地方公共団体コード, 6 digits with a valid JIS X 0402 check digit. */
  readonly municipalityCode: string;
  readonly applicationDate: IsoDate;
  /** 住民票コード, 11 digits (never the My Number). */
  readonly residentCode: string;
  readonly resident: ResidentFields;
}

/**
 * Length limits in code points. address: 200 [C] (profile spec, docs/domain.md §2). name and alias: 100 [U]:
 * no public limit found; a bound keeps certificates and records sane.
 */
export const residentFieldLimits = Object.freeze({ name: 100, alias: 100, address: 200 });

/** 明治 began on 1868-01-25 (Gregorian); the era digit 1 covers it, so this is the earliest date of birth. */
export const EARLIEST_DATE_OF_BIRTH: CalendarDate = Object.freeze({ year: 1868, month: 1, day: 1 });

const RESIDENT_KEYS: ReadonlySet<string> = new Set([
  "name",
  "nameSubstituteFlags",
  "alias",
  "aliasSubstituteFlags",
  "dateOfBirth",
  "gender",
  "address",
  "addressSubstituteFlags",
  "cardExpiry",
  "residencePeriodEnd",
  "underGuardianship",
]);

const invalid = (field: string, rule: string): CaError => new CaError("invalid-input", `${field} ${rule}`, { field });
const refused = (field: string, rule: string): CaError => new CaError("unprocessable", `${field} ${rule}`, { field });

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The JIS X 0402 check digit of a 5-digit 団体コード: Σ dᵢ·wᵢ with weights 6,5,4,3,2; the check
 * digit is the last digit of 11 − (Σ mod 11) (so remainder 0 → 1, remainder 1 → 0). E.g. 13104 → 1.
 */
export function municipalityCheckDigit(firstFiveDigits: string): number {
  if (!/^\d{5}$/.test(firstFiveDigits)) throw new RangeError("five digits expected");
  const weights = [6, 5, 4, 3, 2];
  let sum = 0;
  for (let i = 0; i < 5; i++) sum += Number(firstFiveDigits[i]) * weights[i]!;
  return (11 - (sum % 11)) % 10;
}

/** True for a 6-digit 全国地方公共団体コード whose check digit is right. */
export function isMunicipalityCode(code: string): boolean {
  return /^\d{6}$/.test(code) && municipalityCheckDigit(code.slice(0, 5)) === Number(code[5]);
}

function requireString(value: unknown, field: string): string {
  if (typeof value !== "string") throw invalid(field, "must be a string");
  return value;
}

function requireDate(value: unknown, field: string): CalendarDate {
  const date = typeof value === "string" ? parseIsoDate(value) : undefined;
  if (!date) throw invalid(field, "must be an ISO date YYYY-MM-DD");
  return date;
}

/** Full-width text, not empty, no U+3000 at either end, at most `max` code points. */
function fullWidthText(value: unknown, field: string, max: number): string {
  const text = requireString(value, field);
  if (text.length === 0) throw invalid(field, "must not be empty");
  if (!isFullWidthText(text)) throw invalid(field, "must contain full-width characters only (no half-width, control or combining characters)");
  if (text.startsWith(IDEOGRAPHIC_SPACE) || text.endsWith(IDEOGRAPHIC_SPACE)) throw invalid(field, "must not start or end with a space");
  if (codePointLength(text) > max) throw refused(field, `must be at most ${max} characters`);
  return text;
}

/** One `0`/`1` per code point of the text it describes (docs/domain.md §2, 代替文字の使用位置情報). */
function substituteFlags(value: unknown, field: string, text: string, textField: string): string {
  const flags = requireString(value, field);
  if (!/^[01]*$/.test(flags)) throw invalid(field, "must contain only the digits 0 and 1");
  if (flags.length !== codePointLength(text)) throw invalid(field, `must have exactly one digit per character of ${textField}`);
  // docs/domain.md §2: only JIS X 0208 characters are original (flag 0); others arrive substituted (flag 1).
  const at = firstUnsubstitutedOutsideJis(text, flags);
  if (at !== undefined) throw invalid(textField, `has a character outside JIS X 0208 at position ${at + 1} whose substitute flag is 0 (substitute it and flag it 1)`);
  return flags;
}

const optional = (v: unknown): boolean => v === undefined || v === null;

/**
 * Validates `input` (the issuance request body, or any object with `municipalityCode`,
 * `applicationDate`, `residentCode` and `resident`; other top-level keys are ignored, unknown keys
 * inside `resident` are refused) against the profile, with `now` from the injected Clock deciding
 * "today" in JST. Throws CaError as described at the top of this file.
 */
export function parseResidentApplication(input: unknown, now: Date): ResidentApplication {
  if (!isRecord(input)) throw invalid("body", "must be a JSON object");
  const today = jstDateOf(now);

  const municipalityCode = requireString(input.municipalityCode, "municipalityCode");
  if (!/^\d{6}$/.test(municipalityCode)) throw invalid("municipalityCode", "must be 6 digits");
  if (!isMunicipalityCode(municipalityCode)) throw invalid("municipalityCode", "has a wrong check digit (JIS X 0402)");

  const applicationDate = requireDate(input.applicationDate, "applicationDate");
  if (compareDates(applicationDate, today) > 0) throw refused("applicationDate", "must not be in the future");

  const residentCode = requireString(input.residentCode, "residentCode");
  if (!/^\d{11}$/.test(residentCode)) throw invalid("residentCode", "must be 11 digits");

  const r = input.resident;
  if (!isRecord(r)) throw invalid("resident", "must be an object");
  for (const key of Object.keys(r)) {
    if (RESIDENT_KEYS.has(key)) continue;
    // Name the unknown key only when it looks like a field name: a key is input too (invariant 6).
    if (/^[A-Za-z][A-Za-z0-9_]{0,40}$/.test(key)) throw invalid(`resident.${key}`, "is not a known field");
    throw invalid("resident", "has a field that is not known");
  }

  const name = fullWidthText(r.name, "resident.name", residentFieldLimits.name);
  const separators = name.split(IDEOGRAPHIC_SPACE).length - 1;
  if (separators !== 1) throw invalid("resident.name", "must separate surname and given name with exactly one full-width space U+3000");
  const nameSubstituteFlags = substituteFlags(r.nameSubstituteFlags, "resident.nameSubstituteFlags", name, "resident.name");

  const alias = optional(r.alias) ? null : fullWidthText(r.alias, "resident.alias", residentFieldLimits.alias);
  let aliasSubstituteFlags: string | null = null;
  if (!optional(r.aliasSubstituteFlags)) {
    if (alias === null) throw invalid("resident.aliasSubstituteFlags", "is only allowed together with resident.alias");
    aliasSubstituteFlags = substituteFlags(r.aliasSubstituteFlags, "resident.aliasSubstituteFlags", alias, "resident.alias");
  } else if (alias !== null && firstUnsubstitutedOutsideJis(alias, "") !== undefined) {
    // No flags means every character is original (flag 0), so each must be in JIS X 0208.
    throw invalid("resident.alias", "has a character outside JIS X 0208 and no substitute flags (send resident.aliasSubstituteFlags)");
  }

  const dateOfBirth = requireDate(r.dateOfBirth, "resident.dateOfBirth");
  if (compareDates(dateOfBirth, EARLIEST_DATE_OF_BIRTH) < 0) throw refused("resident.dateOfBirth", "must not be before 1868-01-01");
  if (compareDates(dateOfBirth, applicationDate) > 0) throw refused("resident.dateOfBirth", "must not be after applicationDate");

  const gender = r.gender;
  if (gender !== 1 && gender !== 2 && gender !== 3) throw invalid("resident.gender", "must be 1 (male), 2 (female) or 3 (unknown)");

  const address = fullWidthText(r.address, "resident.address", residentFieldLimits.address);
  const addressSubstituteFlags = substituteFlags(r.addressSubstituteFlags, "resident.addressSubstituteFlags", address, "resident.address");

  const cardExpiry = requireDate(r.cardExpiry, "resident.cardExpiry");
  if (compareDates(cardExpiry, applicationDate) <= 0) throw refused("resident.cardExpiry", "must be after applicationDate");

  const residencePeriodEnd = optional(r.residencePeriodEnd) ? null : requireDate(r.residencePeriodEnd, "resident.residencePeriodEnd");

  if (typeof r.underGuardianship !== "boolean") throw invalid("resident.underGuardianship", "must be a JSON boolean");

  return Object.freeze({
    municipalityCode,
    applicationDate: input.applicationDate as string,
    residentCode,
    resident: Object.freeze({
      name,
      nameSubstituteFlags,
      alias,
      aliasSubstituteFlags,
      dateOfBirth: r.dateOfBirth as string,
      gender,
      address,
      addressSubstituteFlags,
      cardExpiry: r.cardExpiry as string,
      residencePeriodEnd: residencePeriodEnd === null ? null : (r.residencePeriodEnd as string),
      underGuardianship: r.underGuardianship,
    }),
  });
}
