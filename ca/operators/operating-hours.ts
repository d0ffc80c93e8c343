import { formatIsoDate, jstDateOf, JST_OFFSET_MS, parseIsoDate } from "../calendar-date.js";
import { CaError } from "../errors.js";

/**
 * Terminal operating hours (久御山町 規程 第23条: terminals are used only during the set hours, e.g.
 * 8:30–17:15 on working days). Times are Japan time (UTC+9, no DST), whatever the server's zone.
 *
 * A schedule opens at `open` and closes at `close`, both inclusive to the second: with the default,
 * 08:30:00 and 17:15:00 are inside, 08:29:59 and 17:15:01 are outside.
 */
export interface OperatingSchedule {
  /** `HH:MM`, JST. */
  readonly open: string;
  /** `HH:MM`, JST; after `open` (no schedules across midnight). */
  readonly close: string;
  /** ISO weekdays the terminal may be used: 1 = Monday … 7 = Sunday. */
  readonly weekdays: readonly number[];
  /** Whether the terminal may be used on a calendar holiday that falls on one of `weekdays`. */
  readonly openOnHolidays: boolean;
}

/** 08:30–17:15 JST, Monday to Friday, closed on holidays and the New Year closure. */
export const defaultOperatingSchedule: OperatingSchedule = Object.freeze({
  open: "08:30",
  close: "17:15",
  weekdays: Object.freeze([1, 2, 3, 4, 5]),
  openOnHolidays: false,
});

/** Closed days (national holidays, 年末年始 12-29..01-03, local closures) as JST `YYYY-MM-DD`. */
export type HolidayCalendar = ReadonlySet<string>;

/** `HH:MM`; `24:00` as a closing time means the end of the day (open to 23:59:59). */
const HHMM = /^(?:([01][0-9]|2[0-3]):([0-5][0-9])|(24):(00))$/;

const minutesOf = (hhmm: string): number | undefined => {
  const m = HHMM.exec(hhmm);
  if (!m) return undefined;
  return m[3] === "24" ? 24 * 60 : Number(m[1]) * 60 + Number(m[2]);
};

/**
 * Validates a schedule (from the terminals table or configuration); missing fields take the default's.
 * CaError("invalid-input", field "operatingHours.<name>") on a bad value.
 */
export function parseOperatingSchedule(value: unknown): OperatingSchedule {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new CaError("invalid-input", "operating hours must be an object", { field: "operatingHours" });
  }
  const v = { ...defaultOperatingSchedule, ...(value as Record<string, unknown>) } as Record<string, unknown>;
  const bad = (name: string, why: string): never => {
    throw new CaError("invalid-input", `operating hours ${name} ${why}`, { field: `operatingHours.${name}` });
  };
  const open = typeof v.open === "string" ? minutesOf(v.open) : undefined;
  const close = typeof v.close === "string" ? minutesOf(v.close) : undefined;
  if (open === undefined || open === 24 * 60) bad("open", "must be HH:MM");
  if (close === undefined) bad("close", "must be HH:MM (24:00 = end of day)");
  if (close! <= open!) bad("close", "must be after open");
  const weekdays = v.weekdays;
  if (!Array.isArray(weekdays) || weekdays.some((d) => !Number.isInteger(d) || d < 1 || d > 7)) bad("weekdays", "must be a list of 1 (Monday) to 7 (Sunday)");
  if (typeof v.openOnHolidays !== "boolean") bad("openOnHolidays", "must be true or false");
  return Object.freeze({
    open: v.open as string,
    close: v.close as string,
    weekdays: Object.freeze([...new Set(weekdays as number[])].sort()),
    openOnHolidays: v.openOnHolidays as boolean,
  });
}

/**
 * Reads a holiday calendar file's JSON (config/holidays.json): `{ "days": [{ "date": "YYYY-MM-DD",
 * "name": "…" }, …] }` or a plain array of dates. CaError("invalid-input", field "holidays[i]") on a
 * date that does not exist.
 */
export function parseHolidayCalendar(json: unknown): HolidayCalendar {
  const list = Array.isArray(json) ? json : json !== null && typeof json === "object" ? (json as { days?: unknown }).days : undefined;
  if (!Array.isArray(list)) throw new CaError("invalid-input", "holiday calendar must be a list of dates or { days: [...] }", { field: "holidays" });
  const dates = new Set<string>();
  list.forEach((item: unknown, i) => {
    const text = typeof item === "string" ? item : item !== null && typeof item === "object" ? (item as { date?: unknown }).date : undefined;
    if (typeof text !== "string" || parseIsoDate(text) === undefined) {
      throw new CaError("invalid-input", "holiday must be an ISO date YYYY-MM-DD", { field: `holidays[${i}]` });
    }
    dates.add(text);
  });
  return dates;
}

/** The ISO weekday (1 = Monday … 7 = Sunday) of `now` in Japan. */
export function jstWeekday(now: Date): number {
  const day = new Date(now.getTime() + JST_OFFSET_MS).getUTCDay(); // 0 = Sunday
  return day === 0 ? 7 : day;
}

/** True when the JST date of `now` is a day the schedule opens (a listed weekday, not a holiday unless allowed). */
export function isWorkingDay(now: Date, schedule: OperatingSchedule, holidays: HolidayCalendar): boolean {
  if (!schedule.weekdays.includes(jstWeekday(now))) return false;
  return schedule.openOnHolidays || !holidays.has(formatIsoDate(jstDateOf(now)));
}

/**
 * True when a terminal on `schedule` may be used at `now`: a working day in Japan and a JST time of
 * day from `open`:00 to `close`:00 inclusive (whole seconds: 17:15:00.999 is still 17:15:00).
 */
export function isWithinOperatingHours(now: Date, schedule: OperatingSchedule, holidays: HolidayCalendar): boolean {
  if (!isWorkingDay(now, schedule, holidays)) return false;
  const open = minutesOf(schedule.open);
  const close = minutesOf(schedule.close);
  if (open === undefined || close === undefined) throw new CaError("internal", "operating schedule was not validated");
  const jstMs = now.getTime() + JST_OFFSET_MS;
  const secondOfDay = Math.floor((((jstMs % 86_400_000) + 86_400_000) % 86_400_000) / 1000);
  return secondOfDay >= open * 60 && secondOfDay <= close * 60;
}
