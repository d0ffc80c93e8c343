import { type CalendarDate, compareDates, formatIsoDate, parseIsoDate } from "../calendar-date.js";
import { CaError } from "../errors.js";

/**
 * The date-of-birth otherName 1.2.392.200149.8.5.5.4 is `EYYYYMMDD`: an era digit followed by the
 * **Gregorian** year, month and day (docs/domain.md §2; `319800217` = 1980-02-17, 昭和).
 */

/** 0 unknown (or before 明治), 1 明治, 2 大正, 3 昭和, 4 平成, 5 令和. */
export type EraDigit = 0 | 1 | 2 | 3 | 4 | 5;

export interface Era {
  readonly digit: Exclude<EraDigit, 0>;
  readonly name: string;
  /** First day of the era (Gregorian, ISO). */
  readonly start: string;
}

/**
 * Era start days. On the days an emperor died (1912-07-30, 1926-12-25) both eras formally share
 * the day; the day belongs to the new era here (the project's table: 1912-07-30 is 大正).
 * 明治 counts from the proclamation 1868-10-23 (慶応4年9月8日); earlier dates get digit 0.
 */
export const eras: readonly Era[] = Object.freeze([
  { digit: 1, name: "明治", start: "1868-10-23" },
  { digit: 2, name: "大正", start: "1912-07-30" },
  { digit: 3, name: "昭和", start: "1926-12-25" },
  { digit: 4, name: "平成", start: "1989-01-08" },
  { digit: 5, name: "令和", start: "2019-05-01" },
] as const);

const eraStarts: readonly { digit: Exclude<EraDigit, 0>; start: CalendarDate }[] = eras.map((e) => ({
  digit: e.digit,
  start: parseIsoDate(e.start)!,
}));

/** The era digit of a calendar date: the newest era whose first day is on or before it, else 0. */
export function eraDigitOf(date: CalendarDate): EraDigit {
  let digit: EraDigit = 0;
  for (const era of eraStarts) if (compareDates(date, era.start) >= 0) digit = era.digit;
  return digit;
}

/**
 * Renders an ISO date of birth (`1980-02-17`) as `EYYYYMMDD` (`319800217`).
 * Throws CaError("invalid-input", field) when it is not a valid ISO date; the message never
 * carries the value (invariant 6).
 */
export function formatJpkiDateOfBirth(dateOfBirth: string, field = "resident.dateOfBirth"): string {
  const date = parseIsoDate(dateOfBirth);
  if (!date) throw new CaError("invalid-input", `${field} must be an ISO date YYYY-MM-DD`, { field });
  return `${eraDigitOf(date)}${formatIsoDate(date).replaceAll("-", "")}`;
}
