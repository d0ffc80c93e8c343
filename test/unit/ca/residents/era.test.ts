import assert from "node:assert/strict";
import { eraDigitOf, formatJpkiDateOfBirth } from "../../../../ca/residents/era.js";
import { parseIsoDate } from "../../../../ca/calendar-date.js";
import { CaError } from "../../../../ca/errors.js";

describe("era: EYYYYMMDD date of birth (otherName 1.2.392.200149.8.5.5.4)", () => {
  // Every era boundary, the day before, of and after.
  const table: [string, string][] = [
    ["1868-10-22", "018681022"], // before 明治 → 0
    ["1868-10-23", "118681023"], // 明治 starts
    ["1868-10-24", "118681024"],
    ["1912-07-29", "119120729"], // still 明治
    ["1912-07-30", "219120730"], // 大正 (the day both eras share belongs to the new one)
    ["1912-07-31", "219120731"],
    ["1926-12-24", "219261224"],
    ["1926-12-25", "319261225"], // 昭和
    ["1926-12-26", "319261226"],
    ["1989-01-07", "319890107"], // last day of 昭和
    ["1989-01-08", "419890108"], // 平成
    ["1989-01-09", "419890109"],
    ["2019-04-30", "420190430"], // last day of 平成
    ["2019-05-01", "520190501"], // 令和
    ["2019-05-02", "520190502"],
    ["1980-02-17", "319800217"], // docs/domain.md §2 example
    ["2000-02-29", "420000229"],
    ["0001-01-01", "000010101"],
  ];
  for (const [iso, expected] of table) {
    it(`${iso} → ${expected}`, () => {
      assert.equal(formatJpkiDateOfBirth(iso), expected);
      assert.equal(eraDigitOf(parseIsoDate(iso)!), Number(expected[0]));
    });
  }

  for (const bad of ["1980-2-17", "19800217", "1980-02-30", "2023-02-29", "1980-02-17T00:00:00Z", "", "0000-01-01"]) {
    it(`refuses ${JSON.stringify(bad)} without echoing it`, () => {
      assert.throws(
        () => formatJpkiDateOfBirth(bad),
        (e: unknown) => e instanceof CaError && e.kind === "invalid-input" && e.field === "resident.dateOfBirth" && (bad === "" || !e.message.includes(bad)),
      );
    });
  }
});
