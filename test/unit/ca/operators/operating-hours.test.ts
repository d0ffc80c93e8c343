import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { CaError } from "../../../../ca/errors.js";
import {
  defaultOperatingSchedule,
  isWithinOperatingHours,
  jstWeekday,
  parseHolidayCalendar,
  parseOperatingSchedule,
} from "../../../../ca/operators/operating-hours.js";

const shipped = parseHolidayCalendar(JSON.parse(readFileSync("config/holidays.json", "utf8")));
const jst = (local: string): Date => new Date(`${local}+09:00`);

describe("ca/operating-hours", () => {
  // 2026-11-24 is a Tuesday (the day after 勤労感謝の日).
  const table: Array<[string, Date, boolean]> = [
    ["Tue 08:29:59 JST", jst("2026-11-24T08:29:59"), false],
    ["Tue 08:30:00 JST", jst("2026-11-24T08:30:00"), true],
    ["Tue 12:00:00 JST", jst("2026-11-24T12:00:00"), true],
    ["Tue 17:15:00 JST", jst("2026-11-24T17:15:00"), true],
    ["Tue 17:15:00.999 JST (whole seconds)", jst("2026-11-24T17:15:00.999"), true],
    ["Tue 17:15:01 JST", jst("2026-11-24T17:15:01"), false],
    ["Sat 10:00 JST", jst("2026-11-28T10:00:00"), false],
    ["Sun 10:00 JST", jst("2026-11-29T10:00:00"), false],
    ["Mon 2026-11-23 勤労感謝の日 10:00", jst("2026-11-23T10:00:00"), false],
    ["Tue 2026-09-22 国民の休日 10:00", jst("2026-09-22T10:00:00"), false],
    ["Wed 2026-05-06 振替休日 10:00", jst("2026-05-06T10:00:00"), false],
    ["Tue 2026-12-29 年末年始 10:00", jst("2026-12-29T10:00:00"), false],
    ["Mon 2027-01-04 first working day 08:30", jst("2027-01-04T08:30:00"), true],
    ["Mon 2027-03-22 振替休日 (春分 on Sunday)", jst("2027-03-22T10:00:00"), false],
    // UTC/JST date shift: 2026-11-23T23:30Z is Tuesday 08:30 JST; Monday 23:30 in UTC.
    ["2026-11-23T23:30:00Z = Tue 08:30 JST (UTC still on the holiday)", new Date("2026-11-23T23:30:00Z"), true],
    ["2026-11-23T08:00:00Z = Mon 17:00 JST on the holiday", new Date("2026-11-23T08:00:00Z"), false],
    // Friday 2026-11-27 00:00Z is 09:00 JST Friday; Friday 2026-11-27 15:00Z is Saturday 00:00 JST.
    ["2026-11-27T00:00:00Z = Fri 09:00 JST", new Date("2026-11-27T00:00:00Z"), true],
    ["2026-11-27T08:15:00Z = Fri 17:15 JST", new Date("2026-11-27T08:15:00Z"), true],
    ["2026-11-27T08:15:01Z = Fri 17:15:01 JST", new Date("2026-11-27T08:15:01Z"), false],
    ["2026-11-27T23:45:00Z = Sat 08:45 JST", new Date("2026-11-27T23:45:00Z"), false],
  ];
  for (const [name, now, expected] of table) {
    it(`${name} → ${expected ? "open" : "closed"}`, () => {
      assert.equal(isWithinOperatingHours(now, defaultOperatingSchedule, shipped), expected);
    });
  }

  it("computes the weekday in Japan, not in the server's zone", () => {
    assert.equal(jstWeekday(new Date("2026-11-27T15:00:00Z")), 6); // Saturday 00:00 JST
    assert.equal(jstWeekday(new Date("2026-11-27T14:59:59Z")), 5);
    assert.equal(jstWeekday(new Date("2026-11-29T15:00:00Z")), 1);
  });

  it("honours a terminal's own schedule (Saturday opening, holidays open)", () => {
    const s = parseOperatingSchedule({ open: "09:00", close: "12:00", weekdays: [6], openOnHolidays: true });
    assert.equal(isWithinOperatingHours(jst("2026-11-28T09:00:00"), s, shipped), true);
    assert.equal(isWithinOperatingHours(jst("2026-11-28T12:00:01"), s, shipped), false);
    assert.equal(isWithinOperatingHours(jst("2026-11-24T10:00:00"), s, shipped), false);
    const allDay = parseOperatingSchedule({ open: "00:00", close: "24:00", weekdays: [1, 2, 3, 4, 5, 6, 7], openOnHolidays: true });
    assert.equal(isWithinOperatingHours(jst("2026-11-28T23:59:59"), allDay, shipped), true, "24:00 closes at the end of the day");
    assert.equal(isWithinOperatingHours(jst("2026-11-28T00:00:00"), allDay, shipped), true);
    const holidaysOpen = parseOperatingSchedule({ openOnHolidays: true });
    assert.equal(isWithinOperatingHours(jst("2026-11-23T10:00:00"), holidaysOpen, shipped), true);
  });

  it("validates schedules, naming the field", () => {
    assert.deepEqual(parseOperatingSchedule({}), defaultOperatingSchedule);
    for (const [bad, field] of [
      [{ open: "8:30" }, "operatingHours.open"],
      [{ open: "24:00" }, "operatingHours.open"],
      [{ close: "08:00" }, "operatingHours.close"],
      [{ close: "24:01" }, "operatingHours.close"],
      [{ weekdays: [0] }, "operatingHours.weekdays"],
      [{ openOnHolidays: "no" }, "operatingHours.openOnHolidays"],
    ] as const) {
      assert.throws(() => parseOperatingSchedule(bad), (e: unknown) => e instanceof CaError && e.field === field, field);
    }
    assert.throws(() => parseOperatingSchedule(null), CaError);
  });

  it("ships the 2026 and 2027 national holidays and the New Year closure", () => {
    const national2026 = ["01-01", "01-12", "02-11", "02-23", "03-20", "04-29", "05-03", "05-04", "05-05", "05-06", "07-20", "08-11", "09-21", "09-22", "09-23", "10-12", "11-03", "11-23"];
    const national2027 = ["01-01", "01-11", "02-11", "02-23", "03-21", "03-22", "04-29", "05-03", "05-04", "05-05", "07-19", "08-11", "09-20", "09-23", "10-11", "11-03", "11-23"];
    for (const d of national2026) assert.ok(shipped.has(`2026-${d}`), `2026-${d}`);
    for (const d of national2027) assert.ok(shipped.has(`2027-${d}`), `2027-${d}`);
    for (const y of [2025, 2026, 2027]) {
      for (const d of [`${y}-12-29`, `${y}-12-30`, `${y}-12-31`, `${y + 1}-01-01`, `${y + 1}-01-02`, `${y + 1}-01-03`]) assert.ok(shipped.has(d), d);
    }
    assert.equal(shipped.size, 18 + 17 + 16); // holidays + closure days not already holidays (01-01 counted once)
  });

  it("parses calendars as { days: [...] } or a plain list, refusing impossible dates", () => {
    assert.deepEqual([...parseHolidayCalendar(["2026-01-01", "2026-01-01"])], ["2026-01-01"]);
    assert.throws(() => parseHolidayCalendar({ days: [{ date: "2026-02-30" }] }), (e: unknown) => e instanceof CaError && e.field === "holidays[0]");
    assert.throws(() => parseHolidayCalendar({ days: "2026-01-01" }), CaError);
  });
});
