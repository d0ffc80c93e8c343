/**
 * Calendar dates without a time of day (dates of birth, card expiry, application dates) and the
 * JST (UTC+9) date of an instant. Japan has no daylight saving time, so JST is a fixed offset.
 * Kept apart from `Date` on purpose: a `Date` is an instant, and mixing the two is how birthdays
 * end up one day off.
 */

/** A proleptic Gregorian calendar date; month 1–12, day 1–31. */
export interface CalendarDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

/** JST = UTC+9, no DST (標準時: 明石 135°E). */
export const JST_OFFSET_MS = 9 * 60 * 60 * 1000;

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

export function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Parses a strict ISO 8601 calendar date `YYYY-MM-DD` (years 0001–9999, a day that exists).
 * Returns undefined for anything else, including `2023-02-29` and date-times.
 */
export function parseIsoDate(text: string): CalendarDate | undefined {
  const m = ISO_DATE.exec(text);
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  return { year, month, day };
}

const pad = (n: number, width: number): string => String(n).padStart(width, "0");

/** `YYYY-MM-DD`. */
export function formatIsoDate(date: CalendarDate): string {
  return `${pad(date.year, 4)}-${pad(date.month, 2)}-${pad(date.day, 2)}`;
}

/** Negative when a is before b, 0 when equal, positive when after. */
export function compareDates(a: CalendarDate, b: CalendarDate): number {
  return a.year - b.year || a.month - b.month || a.day - b.day;
}

/** Milliseconds of 00:00:00Z on `date` (setUTCFullYear: Date.UTC maps years 0–99 to 1900–1999). */
function utcMidnight(date: CalendarDate): number {
  const d = new Date(0);
  d.setUTCFullYear(date.year, date.month - 1, date.day);
  return d.getTime();
}

function fromUtcMs(ms: number): CalendarDate {
  const d = new Date(ms);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

export function addDays(date: CalendarDate, days: number): CalendarDate {
  return fromUtcMs(utcMidnight(date) + days * 86_400_000);
}

/**
 * Adds (or, with a negative count, subtracts) whole months, clamping the day to the end of the
 * target month when it does not exist there (05-31 − 3 months → 02-28/29), as 民法 第143条2項
 * does for periods whose last month has no corresponding day.
 */
export function addMonthsClamped(date: CalendarDate, months: number): CalendarDate {
  const index = date.year * 12 + (date.month - 1) + months;
  const year = Math.floor(index / 12);
  const month = index - year * 12 + 1;
  return { year, month, day: Math.min(date.day, daysInMonth(year, month)) };
}

/** The calendar date in Japan (UTC+9) at `instant`. */
export function jstDateOf(instant: Date): CalendarDate {
  return fromUtcMs(instant.getTime() + JST_OFFSET_MS);
}

/** The instant of `date` at the UTC time of day `hh:mm:ss` (already validated). */
export function instantAtUtc(date: CalendarDate, time: { hours: number; minutes: number; seconds: number }): Date {
  return new Date(utcMidnight(date) + ((time.hours * 60 + time.minutes) * 60 + time.seconds) * 1000);
}
