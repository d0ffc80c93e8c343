import * as pkijs from "pkijs";
import { DerTag, derTlv } from "./der.js";

/**
 * Certificate and CRL times (RFC 5280 §4.1.2.5): UTCTime for years 1950–2049, GeneralizedTime
 * otherwise, always `Z` and whole seconds (no fractional seconds: §4.1.2.5.2).
 *
 * pkijs `Time` defaults to UTCTime even for 2050+ and asn1js 3 then silently writes 2051 as "51…",
 * which reads back as 1951 (docs/traps.md §3 trap 4); GeneralizedTime keeps milliseconds (trap 5).
 * Everything here chooses the type itself and truncates to the second.
 */

const jstOffsetMs = 9 * 3600_000; // Japan has no daylight saving time.

function assertValid(d: Date): void {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new RangeError("invalid date");
  const y = d.getUTCFullYear();
  if (y < 0 || y > 9999) throw new RangeError("year outside 0000–9999");
}

/** The instant with milliseconds dropped (floor, also before 1970). */
export function truncateToSecond(d: Date): Date {
  assertValid(d);
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

/** True when RFC 5280 §4.1.2.5 wants UTCTime for this instant (years 1950 through 2049). */
export function usesUtcTime(d: Date): boolean {
  const y = d.getUTCFullYear();
  return y >= 1950 && y <= 2049;
}

/** A pkijs `Time` of the right type, truncated to the second. */
export function x509Time(d: Date): pkijs.Time {
  const t = truncateToSecond(d);
  return new pkijs.Time({ type: usesUtcTime(t) ? 0 : 1, value: t });
}

/** The DER of the Time, without pkijs (for hot-path templates). Same bytes as `x509Time(d).toSchema()`. */
export function timeDer(d: Date): Uint8Array {
  const t = truncateToSecond(d);
  const p2 = (n: number): string => String(n).padStart(2, "0");
  const rest = `${p2(t.getUTCMonth() + 1)}${p2(t.getUTCDate())}${p2(t.getUTCHours())}${p2(t.getUTCMinutes())}${p2(t.getUTCSeconds())}Z`;
  const year = t.getUTCFullYear();
  return usesUtcTime(t)
    ? derTlv(DerTag.utcTime, new TextEncoder().encode(p2(year % 100) + rest))
    : derTlv(DerTag.generalizedTime, new TextEncoder().encode(String(year).padStart(4, "0") + rest));
}

/** 23:59:59 JST (14:59:59Z) of the Japanese calendar day that contains `d`. */
export function endOfJstDay(d: Date): Date {
  assertValid(d);
  const jst = new Date(d.getTime() + jstOffsetMs);
  return new Date(Date.UTC(jst.getUTCFullYear(), jst.getUTCMonth(), jst.getUTCDate(), 23, 59, 59) - jstOffsetMs);
}

/**
 * The same JST wall-clock time `years` calendar years later. 29 February in a non-leap target year
 * becomes 28 February (stated rule [U]: the period never grows past the anniversary month).
 */
export function addYearsJst(d: Date, years: number): Date {
  assertValid(d);
  if (!Number.isInteger(years)) throw new RangeError("years must be an integer");
  const jst = new Date(d.getTime() + jstOffsetMs);
  const year = jst.getUTCFullYear() + years;
  const month = jst.getUTCMonth();
  let day = jst.getUTCDate();
  if (month === 1 && day === 29 && !isLeapYear(year)) day = 28;
  if (year < 1000 || year > 9999) throw new RangeError("target year outside 1000–9999");
  const shifted = Date.UTC(year, month, day, jst.getUTCHours(), jst.getUTCMinutes(), jst.getUTCSeconds(), jst.getUTCMilliseconds());
  return new Date(shifted - jstOffsetMs);
}

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}
