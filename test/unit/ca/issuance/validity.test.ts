import assert from "node:assert/strict";
import { CaError } from "../../../../ca/errors.js";
import { FixedClock } from "../../../../ca/ports.js";
import {
  type ValidityInput,
  type ValidityRules,
  computeValidity,
  defaultValidityRules,
  validateValidityRules,
} from "../../../../ca/issuance/validity.js";

/** 12:00 JST on a date. */
const noonJst = (date: string) => new Date(`${date}T03:00:00Z`);
/** notAfter instant of a date at 23:59:59 JST. */
const end = (date: string) => new Date(`${date}T14:59:59Z`);

const clock = new FixedClock(noonJst("2026-11-22"));

function input(over: Partial<ValidityInput>): ValidityInput {
  return {
    kind: "auth",
    issuedAt: clock.now(),
    dateOfBirth: "1980-02-17",
    cardExpiry: "2040-01-01",
    residencePeriodEnd: null,
    underGuardianship: false,
    previousCertificateNotAfter: null,
    userAuthNotAfter: null,
    ...over,
  };
}

type Row = {
  what: string;
  in: Partial<ValidityInput>;
  rules?: Partial<ValidityRules>;
} & ({ notAfter: string; cappedBy: string; renewal?: boolean } | { error: CaError["kind"]; field: string });

function run(rows: Row[]): void {
  for (const row of rows) {
    it(row.what, () => {
      const rules = { ...defaultValidityRules, ...row.rules };
      if ("error" in row) {
        assert.throws(
          () => computeValidity(input(row.in), rules),
          (e: unknown) => e instanceof CaError && e.kind === row.error && e.field === row.field,
        );
        return;
      }
      const v = computeValidity(input(row.in), rules);
      assert.equal(v.notAfter.toISOString(), new Date(row.notAfter).toISOString());
      assert.equal(v.cappedBy, row.cappedBy);
      if (row.renewal !== undefined) assert.equal(v.renewal, row.renewal);
    });
  }
}

describe("validity: the 5th birthday after issuance", () => {
  run([
    { what: "1st birthday after 2026-11-22 is 2027-02-17, so the 5th is 2031-02-17 (23:59:59 JST)", in: {}, notAfter: "2031-02-17T14:59:59Z", cappedBy: "birthday", renewal: false },
    { what: "a birthday on the issuance date does not count", in: { issuedAt: noonJst("2027-02-17") }, notAfter: "2032-02-17T14:59:59Z", cappedBy: "birthday" },
    { what: "the day before the birthday counts the birthday", in: { issuedAt: noonJst("2027-02-16") }, notAfter: "2031-02-17T14:59:59Z", cappedBy: "birthday" },
    { what: "issued 14:59:59Z the day before the birthday (23:59:59 JST): that birthday is the 1st", in: { issuedAt: new Date("2027-02-16T14:59:59Z") }, notAfter: "2031-02-17T14:59:59Z", cappedBy: "birthday" },
    { what: "issued 15:00:00Z the day before (00:00 JST on the birthday): it is not", in: { issuedAt: new Date("2027-02-16T15:00:00Z") }, notAfter: "2032-02-17T14:59:59Z", cappedBy: "birthday" },
    { what: "MC test card: issued 2025-10-27, born 02-17 → 2030-02-17", in: { issuedAt: noonJst("2025-10-27") }, notAfter: "2030-02-17T14:59:59Z", cappedBy: "birthday" },
    { what: "a profile with another count (next generation style, 10)", in: {}, rules: { yearsToBirthday: 10 }, notAfter: "2036-02-17T14:59:59Z", cappedBy: "birthday" },
    { what: "a profile with another end time", in: {}, rules: { endTimeUtc: "14:00:00" }, notAfter: "2031-02-17T14:00:00Z", cappedBy: "birthday" },
  ]);

  it("notBefore is the issuance instant without fractional seconds", () => {
    const v = computeValidity(input({ issuedAt: new Date("2026-11-22T03:00:00.789Z") }));
    assert.equal(v.notBefore.toISOString(), "2026-11-22T03:00:00.000Z");
  });
});

describe("validity: minimum signing age and guardianship", () => {
  const dob15 = "2011-11-22"; // 15th birthday on 2026-11-22
  run([
    { what: "sign, the day before the 15th birthday: refused", in: { kind: "sign", dateOfBirth: dob15, issuedAt: noonJst("2026-11-21") }, error: "unprocessable", field: "resident.dateOfBirth" },
    { what: "sign, on the 15th birthday: issued", in: { kind: "sign", dateOfBirth: dob15, issuedAt: noonJst("2026-11-22") }, notAfter: "2031-11-22T14:59:59Z", cappedBy: "birthday" },
    { what: "sign, the day after the 15th birthday: issued", in: { kind: "sign", dateOfBirth: dob15, issuedAt: noonJst("2026-11-23") }, notAfter: "2031-11-22T14:59:59Z", cappedBy: "birthday" },
    { what: "sign at 14:59:59Z the day before (still 14 in JST): refused", in: { kind: "sign", dateOfBirth: dob15, issuedAt: new Date("2026-11-21T14:59:59Z") }, error: "unprocessable", field: "resident.dateOfBirth" },
    { what: "sign at 15:00:00Z the day before (15 in JST): issued", in: { kind: "sign", dateOfBirth: dob15, issuedAt: new Date("2026-11-21T15:00:00Z") }, notAfter: "2031-11-22T14:59:59Z", cappedBy: "birthday" },
    { what: "sign: the age counts on the application date, not the issuance date", in: { kind: "sign", dateOfBirth: dob15, issuedAt: noonJst("2026-11-23"), applicationDate: "2026-11-21" }, error: "unprocessable", field: "resident.dateOfBirth" },
    { what: "auth for a 14-year-old: issued (the birthday the next day is the 1st)", in: { kind: "auth", dateOfBirth: dob15, issuedAt: noonJst("2026-11-21") }, notAfter: "2030-11-22T14:59:59Z", cappedBy: "birthday" },
    { what: "a profile with minimum age 18", in: { kind: "sign", dateOfBirth: "2010-01-01" }, rules: { minimumSigningAge: 18 }, error: "unprocessable", field: "resident.dateOfBirth" },
    { what: "sign under adult guardianship: refused", in: { kind: "sign", underGuardianship: true }, error: "unprocessable", field: "resident.underGuardianship" },
    { what: "auth under adult guardianship: issued", in: { kind: "auth", underGuardianship: true }, notAfter: "2031-02-17T14:59:59Z", cappedBy: "birthday" },
    { what: "born after the issuance date: refused", in: { dateOfBirth: "2026-11-23" }, error: "unprocessable", field: "resident.dateOfBirth" },
    { what: "a malformed date of birth", in: { dateOfBirth: "1980-02-30" }, error: "invalid-input", field: "resident.dateOfBirth" },
  ]);
});

describe("validity: renewal in the last 3 months of the previous certificate", () => {
  const previous = end("2031-02-17");
  run([
    { what: "3 months + 1 day before (2030-11-16): no renewal, 5th birthday", in: { issuedAt: noonJst("2030-11-16"), previousCertificateNotAfter: previous }, notAfter: "2035-02-17T14:59:59Z", cappedBy: "birthday", renewal: false },
    { what: "exactly 3 months before (2030-11-17): not yet (window opens the day after)", in: { issuedAt: noonJst("2030-11-17"), previousCertificateNotAfter: previous }, notAfter: "2035-02-17T14:59:59Z", cappedBy: "birthday", renewal: false },
    { what: "the day after (2030-11-18): renewal, 6th birthday", in: { issuedAt: noonJst("2030-11-18"), previousCertificateNotAfter: previous }, notAfter: "2036-02-17T14:59:59Z", cappedBy: "birthday", renewal: true },
    { what: "window opening at 15:00:00Z (00:00 JST 2030-11-18): renewal", in: { issuedAt: new Date("2030-11-17T15:00:00Z"), previousCertificateNotAfter: previous }, notAfter: "2036-02-17T14:59:59Z", cappedBy: "birthday", renewal: true },
    { what: "14:59:59Z the second before: no renewal", in: { issuedAt: new Date("2030-11-17T14:59:59Z"), previousCertificateNotAfter: previous }, notAfter: "2035-02-17T14:59:59Z", cappedBy: "birthday", renewal: false },
    { what: "on the previous expiry day (the birthday itself does not count): 6th after it", in: { issuedAt: noonJst("2031-02-17"), previousCertificateNotAfter: previous }, notAfter: "2037-02-17T14:59:59Z", cappedBy: "birthday", renewal: true },
    { what: "after the previous certificate expired: no renewal", in: { issuedAt: noonJst("2031-02-18"), previousCertificateNotAfter: previous }, notAfter: "2036-02-17T14:59:59Z", cappedBy: "birthday", renewal: false },
    { what: "renewal rule switched off", in: { issuedAt: noonJst("2030-11-18"), previousCertificateNotAfter: previous }, rules: { renewalExtraBirthday: false }, notAfter: "2035-02-17T14:59:59Z", cappedBy: "birthday", renewal: false },
    { what: "a 12-month window (next generation style)", in: { issuedAt: noonJst("2030-03-01"), previousCertificateNotAfter: previous }, rules: { renewalWindowMonths: 12 }, notAfter: "2036-02-17T14:59:59Z", cappedBy: "birthday", renewal: true },
    // previous expiry 05-31: 3 months before is 02-28 (clamped), the window opens 03-01
    { what: "month-end clamp: 2031-02-28 is outside a window ending 2031-05-31", in: { dateOfBirth: "1980-05-31", issuedAt: noonJst("2031-02-28"), previousCertificateNotAfter: end("2031-05-31") }, notAfter: "2035-05-31T14:59:59Z", cappedBy: "birthday", renewal: false },
    { what: "month-end clamp: 2031-03-01 is inside", in: { dateOfBirth: "1980-05-31", issuedAt: noonJst("2031-03-01"), previousCertificateNotAfter: end("2031-05-31") }, notAfter: "2036-05-31T14:59:59Z", cappedBy: "birthday", renewal: true },
  ]);
});

describe("validity: 29 February births", () => {
  const dob = "2000-02-29";
  run([
    { what: "5th birthday in a non-leap year, feb28 rule → 02-28", in: { dateOfBirth: dob, issuedAt: noonJst("2022-06-01") }, notAfter: "2027-02-28T14:59:59Z", cappedBy: "birthday" },
    { what: "5th birthday in a non-leap year, mar1 rule → 03-01", in: { dateOfBirth: dob, issuedAt: noonJst("2022-06-01") }, rules: { feb29Rule: "mar1" }, notAfter: "2027-03-01T14:59:59Z", cappedBy: "birthday" },
    { what: "5th birthday in a leap year, feb28 rule → 02-29", in: { dateOfBirth: dob, issuedAt: noonJst("2023-06-01") }, notAfter: "2028-02-29T14:59:59Z", cappedBy: "birthday" },
    { what: "5th birthday in a leap year, mar1 rule → 02-29", in: { dateOfBirth: dob, issuedAt: noonJst("2023-06-01") }, rules: { feb29Rule: "mar1" }, notAfter: "2028-02-29T14:59:59Z", cappedBy: "birthday" },
    { what: "issued on 02-28 of a non-leap year, feb28: that day is the birthday and does not count", in: { dateOfBirth: dob, issuedAt: noonJst("2023-02-28") }, notAfter: "2028-02-29T14:59:59Z", cappedBy: "birthday" },
    { what: "issued on 02-28 of a non-leap year, mar1: 03-01 is the 1st", in: { dateOfBirth: dob, issuedAt: noonJst("2023-02-28") }, rules: { feb29Rule: "mar1" }, notAfter: "2027-03-01T14:59:59Z", cappedBy: "birthday" },
    { what: "sign, born 2008-02-29, on 2023-02-28: legally still 14 → refused", in: { kind: "sign", dateOfBirth: "2008-02-29", issuedAt: noonJst("2023-02-28") }, error: "unprocessable", field: "resident.dateOfBirth" },
    { what: "sign, born 2008-02-29, on 2023-02-28 with mar1: still refused (age follows the law)", in: { kind: "sign", dateOfBirth: "2008-02-29", issuedAt: noonJst("2023-02-28") }, rules: { feb29Rule: "mar1" }, error: "unprocessable", field: "resident.dateOfBirth" },
    { what: "sign, born 2008-02-29, on 2023-03-01: 15 → issued", in: { kind: "sign", dateOfBirth: "2008-02-29", issuedAt: noonJst("2023-03-01") }, notAfter: "2028-02-29T14:59:59Z", cappedBy: "birthday" },
    { what: "sign, born 2008-02-28, on 2023-02-28: 15 → issued", in: { kind: "sign", dateOfBirth: "2008-02-28", issuedAt: noonJst("2023-02-28") }, notAfter: "2028-02-28T14:59:59Z", cappedBy: "birthday" },
  ]);
});

describe("validity: caps", () => {
  run([
    { what: "card expiry before the 5th birthday wins", in: { cardExpiry: "2029-06-30" }, notAfter: "2029-06-30T14:59:59Z", cappedBy: "cardExpiry" },
    { what: "residence-period end wins", in: { cardExpiry: "2029-06-30", residencePeriodEnd: "2027-09-30" }, notAfter: "2027-09-30T14:59:59Z", cappedBy: "residencePeriodEnd" },
    { what: "user-auth notAfter wins for sign", in: { kind: "sign", cardExpiry: "2029-06-30", residencePeriodEnd: "2028-09-30", userAuthNotAfter: end("2028-01-01") }, notAfter: "2028-01-01T14:59:59Z", cappedBy: "userAuth" },
    { what: "user-auth notAfter is ignored for auth", in: { kind: "auth", userAuthNotAfter: end("2028-01-01") }, notAfter: "2031-02-17T14:59:59Z", cappedBy: "birthday" },
    { what: "a tie between birthday and card expiry reports the birthday", in: { cardExpiry: "2031-02-17" }, notAfter: "2031-02-17T14:59:59Z", cappedBy: "birthday" },
    { what: "sign issued with auth: equal notAfter, reported as birthday", in: { kind: "sign", userAuthNotAfter: end("2031-02-17") }, notAfter: "2031-02-17T14:59:59Z", cappedBy: "birthday" },
    { what: "a card expiring today still gives a certificate until 23:59:59 JST", in: { cardExpiry: "2026-11-22" }, notAfter: "2026-11-22T14:59:59Z", cappedBy: "cardExpiry" },
    { what: "an expired card: refused", in: { cardExpiry: "2026-11-21" }, error: "unprocessable", field: "resident.cardExpiry" },
    { what: "an ended residence period: refused", in: { residencePeriodEnd: "2026-11-21" }, error: "unprocessable", field: "resident.residencePeriodEnd" },
    { what: "an expired user-auth certificate: refused", in: { kind: "sign", userAuthNotAfter: end("2026-11-21") }, error: "unprocessable", field: "requests" },
  ]);
});

describe("validity rules validation", () => {
  const bad: [Partial<ValidityRules>, string][] = [
    [{ yearsToBirthday: 0 }, "profile.validity.yearsToBirthday"],
    [{ yearsToBirthday: 5.5 }, "profile.validity.yearsToBirthday"],
    [{ renewalWindowMonths: -1 }, "profile.validity.renewalWindowMonths"],
    [{ minimumSigningAge: -1 }, "profile.validity.minimumSigningAge"],
    [{ endTimeUtc: "24:00:00" }, "profile.validity.endTimeUtc"],
    [{ endTimeUtc: "14:59" }, "profile.validity.endTimeUtc"],
    [{ feb29Rule: "feb29" as "feb28" }, "profile.validity.feb29Rule"],
    [{ renewalExtraBirthday: "yes" as unknown as boolean }, "profile.validity.renewalExtraBirthday"],
  ];
  for (const [change, field] of bad) {
    it(`refuses ${JSON.stringify(change)}`, () =>
      assert.throws(() => validateValidityRules({ ...defaultValidityRules, ...change }), (e: unknown) => e instanceof CaError && e.field === field));
  }
  it("accepts and freezes the defaults", () => assert.ok(Object.isFrozen(validateValidityRules({ ...defaultValidityRules }))));
});
