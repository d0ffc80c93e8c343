import assert from "node:assert/strict";
import {
  addDays,
  addMonthsClamped,
  formatIsoDate,
  instantAtUtc,
  jstDateOf,
  parseIsoDate,
} from "../../../ca/calendar-date.js";

const d = (iso: string) => parseIsoDate(iso)!;

describe("calendar-date", () => {
  const jst: [string, string][] = [
    ["2026-11-22T14:59:59.999Z", "2026-11-22"],
    ["2026-11-22T15:00:00.000Z", "2026-11-23"],
    ["2026-12-31T15:00:00Z", "2027-01-01"],
    ["2024-02-28T15:00:00Z", "2024-02-29"],
  ];
  for (const [instant, date] of jst) it(`JST date of ${instant} is ${date}`, () => assert.equal(formatIsoDate(jstDateOf(new Date(instant))), date));

  const months: [string, number, string][] = [
    ["2031-02-17", -3, "2030-11-17"],
    ["2031-05-31", -3, "2031-02-28"],
    ["2032-05-31", -3, "2032-02-29"],
    ["2031-01-31", 1, "2031-02-28"],
    ["2030-11-30", 3, "2031-02-28"],
    ["2031-03-15", -15, "2029-12-15"],
  ];
  for (const [from, n, to] of months) it(`${from} ${n >= 0 ? "+" : ""}${n} months = ${to}`, () => assert.equal(formatIsoDate(addMonthsClamped(d(from), n)), to));

  const days: [string, number, string][] = [
    ["2030-11-17", 1, "2030-11-18"],
    ["2024-02-28", 1, "2024-02-29"],
    ["2023-02-28", 1, "2023-03-01"],
    ["0050-01-01", -1, "0049-12-31"], // years below 100 are not mapped to 19xx
  ];
  for (const [from, n, to] of days) it(`${from} + ${n} days = ${to}`, () => assert.equal(formatIsoDate(addDays(d(from), n)), to));

  it("places a date at a UTC time of day", () => {
    assert.equal(instantAtUtc(d("2031-02-17"), { hours: 14, minutes: 59, seconds: 59 }).toISOString(), "2031-02-17T14:59:59.000Z");
  });

  for (const bad of ["2023-02-29", "2024-13-01", "2024-00-10", "2024-04-31", "24-01-01", "2024-01-01 "]) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.equal(parseIsoDate(bad), undefined));
  }
});
