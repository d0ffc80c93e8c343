import {
  type CalendarDate,
  addDays,
  addMonthsClamped,
  compareDates,
  isLeapYear,
  jstDateOf,
  instantAtUtc,
  parseIsoDate,
} from "../calendar-date.js";
import { CaError } from "../errors.js";
import type { CaKind } from "../types.js";

/**
 * Certificate validity (docs/domain.md §2 "Validity") as a pure function of the profile's rules.
 *
 * Definitions (all dates are JST calendar dates; JST = UTC+9):
 * - issuance date: the JST date of the issuance instant (14:59:59Z is still the same JST day,
 *   15:00:00Z is the next one).
 * - birthday in year Y: the month and day of birth in Y. A 29 February birthday in a non-leap year
 *   is 28 February (`feb29Rule: "feb28"`, the default) or 1 March (`"mar1"`).
 *   Why feb28: under 年齢計算ニ関スル法律 with 民法 第143条2項 a person born on 29 February
 *   completes each year at the end of 28 February in non-leap years (the last day of the month
 *   with no corresponding day), so an expiry at the end of 28 February is exactly the legal
 *   anniversary and the certificate never outlives it; "mar1" keeps the expiry on the first day
 *   of the new year of age, as for everyone else.
 * - "the n-th birthday after issuance": the 1st is the first birthday strictly after the issuance
 *   date (a birthday on the issuance date itself does not count), the n-th is n − 1 years later.
 * - renewal: the issuance date lies in the last `renewalWindowMonths` months of the previous
 *   certificate of the same kind ("有効期限の3か月前の翌日から"): from the day after the date
 *   `renewalWindowMonths` months before the previous notAfter's JST date (clamped to the month
 *   end), up to the previous notAfter itself. Previous expiry 2031-02-17: 2030-11-17 is outside,
 *   2030-11-18 inside. Then one extra birthday is counted (the 6th instead of the 5th).
 * - age (minimum signing age): the legal age on the application date (or, when not given, the
 *   issuance date): years completed, a year being completed at the end of the day before the
 *   birthday (so on 28 February of a non-leap year someone born on 29 February has not yet had
 *   it, whatever feb29Rule says — the age rule follows the law, feb29Rule only places notAfter).
 *
 * notAfter is the earliest of the birthday rule, the card's expiry, the residence-period end and,
 * for signing certificates, the user-auth certificate's notAfter; dates become instants at
 * `endTimeUtc` (14:59:59Z = 23:59:59 JST). On a tie the earlier entry of that list is reported in
 * `cappedBy`. notBefore is the issuance instant truncated to the second (RFC 5280 §4.1.2.5 forbids
 * fractional seconds).
 */

/** The per-CA-generation numbers (docs/domain.md §2: "keep them in the profile, not in code"). */
export interface ValidityRules {
  /** Which birthday after issuance ends the certificate: 5. */
  readonly yearsToBirthday: number;
  /** Length of the renewal window before the previous certificate's expiry, in months: 3. */
  readonly renewalWindowMonths: number;
  /** Whether a renewal inside the window counts one more birthday (the 6th). */
  readonly renewalExtraBirthday: boolean;
  /** No signing certificate below this age on the application date: 15. */
  readonly minimumSigningAge: number;
  /** UTC time of day of notAfter, `HH:MM:SS`: "14:59:59" (23:59:59 JST). */
  readonly endTimeUtc: string;
  /** Where a 29 February birthday falls in a non-leap year. */
  readonly feb29Rule: "feb28" | "mar1";
}

/** Today's JPKI numbers (current generation; the next generation differs [S]). */
export const defaultValidityRules: ValidityRules = Object.freeze({
  yearsToBirthday: 5,
  renewalWindowMonths: 3,
  renewalExtraBirthday: true,
  minimumSigningAge: 15,
  endTimeUtc: "14:59:59",
  feb29Rule: "feb28",
});

export interface ValidityInput {
  readonly kind: CaKind;
  /** The issuance instant, from the injected Clock. */
  readonly issuedAt: Date;
  /** ISO date; when absent the issuance date is the date the age is computed on. */
  readonly applicationDate?: string;
  readonly dateOfBirth: string;
  readonly cardExpiry: string;
  readonly residencePeriodEnd: string | null;
  readonly underGuardianship: boolean;
  /** notAfter of the holder's previous certificate of the same kind, if any (renewal rule). */
  readonly previousCertificateNotAfter: Date | null;
  /**
   * Signing only: notAfter of the holder's current or simultaneously issued user-auth certificate.
   * null means the holder has none and nothing caps by it; whether that is allowed is the caller's rule.
   */
  readonly userAuthNotAfter: Date | null;
}

export type ValidityCap = "birthday" | "cardExpiry" | "residencePeriodEnd" | "userAuth";

export interface Validity {
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly cappedBy: ValidityCap;
  /** True when the renewal rule added a birthday. */
  readonly renewal: boolean;
}

const TIME = /^([01]\d|2[0-3]):([0-5]\d):([0-5]\d)$/;

/**
 * Checks a rules object (once, at start-up: docs/design.md invariant 8) and returns a frozen copy.
 * Throws CaError("invalid-input", field `${fieldPrefix}.<key>`).
 */
export function validateValidityRules(rules: ValidityRules, fieldPrefix = "profile.validity"): ValidityRules {
  const bad = (key: string, rule: string): CaError =>
    new CaError("invalid-input", `${fieldPrefix}.${key} ${rule}`, { field: `${fieldPrefix}.${key}` });
  const int = (key: keyof ValidityRules, min: number, max: number): void => {
    const v = rules[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw bad(key, `must be an integer from ${min} to ${max}`);
  };
  int("yearsToBirthday", 1, 20);
  int("renewalWindowMonths", 0, 24);
  int("minimumSigningAge", 0, 30);
  if (typeof rules.renewalExtraBirthday !== "boolean") throw bad("renewalExtraBirthday", "must be true or false");
  if (typeof rules.endTimeUtc !== "string" || !TIME.test(rules.endTimeUtc)) throw bad("endTimeUtc", "must be a time HH:MM:SS");
  if (rules.feb29Rule !== "feb28" && rules.feb29Rule !== "mar1") throw bad("feb29Rule", 'must be "feb28" or "mar1"');
  return Object.freeze({ ...rules });
}

function endTime(rules: ValidityRules): { hours: number; minutes: number; seconds: number } {
  const m = TIME.exec(rules.endTimeUtc);
  if (!m) throw new CaError("internal", "validity rules: endTimeUtc is not HH:MM:SS");
  return { hours: Number(m[1]), minutes: Number(m[2]), seconds: Number(m[3]) };
}

function date(value: string, field: string): CalendarDate {
  const d = parseIsoDate(value);
  if (!d) throw new CaError("invalid-input", `${field} must be an ISO date YYYY-MM-DD`, { field });
  return d;
}

/** The birthday in `year` under the feb29 rule. */
export function birthdayIn(dateOfBirth: CalendarDate, year: number, feb29Rule: ValidityRules["feb29Rule"]): CalendarDate {
  if (dateOfBirth.month === 2 && dateOfBirth.day === 29 && !isLeapYear(year)) {
    return feb29Rule === "feb28" ? { year, month: 2, day: 28 } : { year, month: 3, day: 1 };
  }
  return { year, month: dateOfBirth.month, day: dateOfBirth.day };
}

/** The n-th birthday strictly after `after` (n ≥ 1). */
export function nthBirthdayAfter(dateOfBirth: CalendarDate, after: CalendarDate, n: number, feb29Rule: ValidityRules["feb29Rule"]): CalendarDate {
  let firstYear = after.year;
  if (compareDates(birthdayIn(dateOfBirth, firstYear, feb29Rule), after) <= 0) firstYear++;
  return birthdayIn(dateOfBirth, firstYear + n - 1, feb29Rule);
}

/** Legal age on `on` (年齢計算ニ関スル法律): completed years, the birthday itself counting as completed. */
export function ageOn(dateOfBirth: CalendarDate, on: CalendarDate): number {
  const beforeBirthday = on.month < dateOfBirth.month || (on.month === dateOfBirth.month && on.day < dateOfBirth.day);
  return on.year - dateOfBirth.year - (beforeBirthday ? 1 : 0);
}

/**
 * notBefore/notAfter of a certificate, or CaError("unprocessable") when it may not be issued:
 * field "resident.dateOfBirth" (under the minimum signing age, or born after the issuance date),
 * "resident.underGuardianship" (signing), or the cap that already lies in the past
 * ("resident.cardExpiry", "resident.residencePeriodEnd", "requests" for an expired user-auth
 * certificate). Malformed dates throw CaError("invalid-input").
 */
export function computeValidity(input: ValidityInput, rules: ValidityRules = defaultValidityRules): Validity {
  const notBefore = new Date(Math.floor(input.issuedAt.getTime() / 1000) * 1000);
  const issueDate = jstDateOf(input.issuedAt);
  const dob = date(input.dateOfBirth, "resident.dateOfBirth");
  const ageDate = input.applicationDate === undefined ? issueDate : date(input.applicationDate, "applicationDate");
  const cardExpiry = date(input.cardExpiry, "resident.cardExpiry");
  const residenceEnd = input.residencePeriodEnd === null ? null : date(input.residencePeriodEnd, "resident.residencePeriodEnd");

  if (compareDates(dob, issueDate) > 0 || compareDates(dob, ageDate) > 0) {
    throw new CaError("unprocessable", "resident.dateOfBirth must not be after the application or issuance date", { field: "resident.dateOfBirth" });
  }
  if (input.kind === "sign") {
    if (ageOn(dob, ageDate) < rules.minimumSigningAge) {
      throw new CaError("unprocessable", `no signing certificate below age ${rules.minimumSigningAge} on the application date`, {
        field: "resident.dateOfBirth",
      });
    }
    if (input.underGuardianship) {
      throw new CaError("unprocessable", "no signing certificate for a person under adult guardianship", { field: "resident.underGuardianship" });
    }
  }

  const previous = input.previousCertificateNotAfter;
  const renewal =
    rules.renewalExtraBirthday &&
    previous !== null &&
    input.issuedAt.getTime() <= previous.getTime() &&
    compareDates(issueDate, addDays(addMonthsClamped(jstDateOf(previous), -rules.renewalWindowMonths), 1)) >= 0;

  const time = endTime(rules);
  const birthday = nthBirthdayAfter(dob, issueDate, rules.yearsToBirthday + (renewal ? 1 : 0), rules.feb29Rule);
  const caps: { cap: ValidityCap; at: Date; field: string }[] = [
    { cap: "birthday", at: instantAtUtc(birthday, time), field: "resident.dateOfBirth" },
    { cap: "cardExpiry", at: instantAtUtc(cardExpiry, time), field: "resident.cardExpiry" },
  ];
  if (residenceEnd) caps.push({ cap: "residencePeriodEnd", at: instantAtUtc(residenceEnd, time), field: "resident.residencePeriodEnd" });
  if (input.kind === "sign" && input.userAuthNotAfter !== null) caps.push({ cap: "userAuth", at: input.userAuthNotAfter, field: "requests" });

  let chosen = caps[0]!;
  for (const c of caps) if (c.at.getTime() < chosen.at.getTime()) chosen = c;
  if (chosen.at.getTime() <= notBefore.getTime()) {
    const what =
      chosen.cap === "userAuth" ? "the user-authentication certificate has expired" : `${chosen.field} has already passed`;
    throw new CaError("unprocessable", `certificate would end before it starts: ${what}`, { field: chosen.field });
  }
  return Object.freeze({ notBefore, notAfter: new Date(chosen.at.getTime()), cappedBy: chosen.cap, renewal });
}
