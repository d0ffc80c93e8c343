import assert from "node:assert/strict";
import { defaultRetentionPeriods, statusAfterExpiryConflict } from "../../../ca/records/retention.js";
import {
  defaultStatusAfterExpiryPolicy,
  notAfterFloor,
  parseStatusAfterExpiry,
  StatusAfterExpiry,
  statusUntil,
  type AfterExpiryPeriod,
} from "../../../ca/revocation/status-after-expiry.js";

/**
 * The status cutoff (docs/domain.md §4 "Status after expiry"): to the end of the third month after the
 * month of expiry, counted in JST, and the floor that the CRL query, the coverage check and the OCSP
 * archiveCutoff use. The two must agree: status given at t ⟺ notAfter ≥ floor(t) ⟺ t < until(notAfter).
 */
const three: AfterExpiryPeriod = { rule: "month-end", months: 3 };
const iso = (d: Date | undefined): string | undefined => d?.toISOString();

describe("ca/revocation/status-after-expiry", () => {
  describe("statusUntil (month ends, JST)", () => {
    const cases: Array<[string, string, string]> = [
      ["January, end of month JST", "2026-01-31T14:59:59Z", "2026-04-30T15:00:00.000Z"],
      ["mid-month", "2026-06-15T03:00:00Z", "2026-09-30T15:00:00.000Z"],
      ["December → March (year change)", "2026-12-10T00:00:00Z", "2027-03-31T15:00:00.000Z"],
      ["November → February of a leap year", "2027-11-20T00:00:00Z", "2028-02-29T15:00:00.000Z"],
      ["November → February of a common year", "2026-11-20T00:00:00Z", "2027-02-28T15:00:00.000Z"],
      ["last second of February 29 JST", "2028-02-29T14:59:59Z", "2028-05-31T15:00:00.000Z"],
      ["UTC still January, JST already February", "2026-01-31T15:00:00Z", "2026-05-31T15:00:00.000Z"],
      ["UTC already February, JST too", "2026-02-01T00:00:00Z", "2026-05-31T15:00:00.000Z"],
      ["UTC day 2026-03-31 at 23:00 is April 1 in JST", "2026-03-31T23:00:00Z", "2026-07-31T15:00:00.000Z"],
    ];
    for (const [name, notAfter, until] of cases) {
      it(name, () => assert.equal(iso(statusUntil(new Date(notAfter), three)), until));
    }

    it("counts in UTC when the offset is +00:00 (the JST boundary matters)", () => {
      assert.equal(iso(statusUntil(new Date("2026-01-31T15:00:00Z"), three, 0)), "2026-05-01T00:00:00.000Z");
    });

    it("none gives no cutoff; days add whole days", () => {
      assert.equal(statusUntil(new Date("2026-01-31T00:00:00Z"), { rule: "none" }), undefined);
      assert.equal(iso(statusUntil(new Date("2026-01-31T00:00:00Z"), { rule: "days", days: 90 })), "2026-05-01T00:00:00.000Z");
    });
  });

  describe("notAfterFloor agrees with statusUntil", () => {
    const notAfters = ["2026-01-31T14:59:59Z", "2026-01-31T15:00:00Z", "2026-02-28T14:59:59.999Z", "2027-12-31T15:00:00Z", "2028-02-29T00:00:00Z", "2026-10-01T00:00:00Z"];
    const periods: AfterExpiryPeriod[] = [three, { rule: "month-end", months: 1 }, { rule: "month-end", months: 12 }, { rule: "days", days: 30 }];
    for (const p of periods) {
      it(`${p.rule} ${"months" in p ? p.months : "days" in p ? p.days : ""}: just before, at and after the cutoff`, () => {
        for (const na of notAfters.map((s) => new Date(s))) {
          const until = statusUntil(na, p)!;
          for (const t of [new Date(until.getTime() - 1), until, new Date(until.getTime() + 1), na, new Date(na.getTime() + 86_400_000)]) {
            const given = t.getTime() < until.getTime();
            assert.equal(na.getTime() >= notAfterFloor(t, p)!.getTime(), given, `${na.toISOString()} at ${t.toISOString()}`);
          }
        }
      });
    }

    it("the floor at 2026-05-10 JST is 2026-02-01 00:00 JST", () => {
      assert.equal(iso(notAfterFloor(new Date("2026-05-10T00:00:00Z"), three)), "2026-01-31T15:00:00.000Z");
      // 2026-04-30T15:00Z is already May in JST.
      assert.equal(iso(notAfterFloor(new Date("2026-04-30T15:00:00Z"), three)), "2026-01-31T15:00:00.000Z");
      assert.equal(iso(notAfterFloor(new Date("2026-04-30T14:59:59Z"), three)), "2025-12-31T15:00:00.000Z");
      assert.equal(iso(notAfterFloor(new Date("2027-02-15T00:00:00Z"), three)), "2026-10-31T15:00:00.000Z");
    });
  });

  describe("StatusAfterExpiry", () => {
    it("per kind overrides, by kind or CA id; none is today's behaviour", () => {
      const s = new StatusAfterExpiry({ ...defaultStatusAfterExpiryPolicy, byKind: { sign: { rule: "none" } } });
      assert.equal(s.enabled("auth-g1"), true);
      assert.equal(s.enabled("sign-g2"), false);
      assert.equal(s.pastCutoff("sign-g2", new Date("2020-01-01T00:00:00Z"), new Date("2026-01-01T00:00:00Z")), false);
      assert.equal(s.pastCutoff("auth-g1", new Date("2026-01-31T14:59:59Z"), new Date("2026-04-30T14:59:59Z")), false);
      assert.equal(s.pastCutoff("auth-g1", new Date("2026-01-31T14:59:59Z"), new Date("2026-04-30T15:00:00Z")), true);
      assert.equal(s.archiveCutoff("sign-g1", new Date("2026-05-01T00:00:00Z")), undefined);
      assert.equal(iso(s.archiveCutoff("auth-g1", new Date("2026-05-10T00:00:00Z"))), "2026-01-31T15:00:00.000Z");
    });

    it("archiveCutoff of a days period is whole seconds, rounded up", () => {
      const s = new StatusAfterExpiry({ ...defaultStatusAfterExpiryPolicy, default: { rule: "days", days: 1 } });
      assert.equal(iso(s.archiveCutoff("auth", new Date("2026-05-10T00:00:00Z"))), "2026-05-09T00:00:01.000Z");
    });
  });

  describe("retention (ca/records/retention.ts)", () => {
    it("the default periods agree; a personal-fields retention shorter than the longest period is named", () => {
      assert.equal(statusAfterExpiryConflict(defaultRetentionPeriods, new StatusAfterExpiry().longestDays()), undefined);
      const long = new StatusAfterExpiry({ ...defaultStatusAfterExpiryPolicy, byKind: { auth: { rule: "month-end", months: 24 } } });
      assert.equal(long.longestDays(), 775);
      assert.match(statusAfterExpiryConflict({ ...defaultRetentionPeriods, certificatePersonalFieldsYearsAfterExpiry: 1 }, long.longestDays()) ?? "", /certificatePersonalFieldsYearsAfterExpiry/);
    });
  });

  describe("parseStatusAfterExpiry", () => {
    it("defaults to three month ends in JST", () => {
      const p = parseStatusAfterExpiry({});
      assert.deepEqual(p.default, { rule: "month-end", months: 3 });
      assert.equal(p.utcOffsetMinutes, 540);
    });

    it("reads 0, month ends, days, per kind and the offset", () => {
      const p = parseStatusAfterExpiry({ afterExpiry: { default: 0, auth: { monthEnds: 3 }, sign: { days: 10 } }, utcOffset: "-03:30" });
      assert.deepEqual(p.default, { rule: "none" });
      assert.deepEqual(p.byKind.auth, { rule: "month-end", months: 3 });
      assert.deepEqual(p.byKind.sign, { rule: "days", days: 10 });
      assert.equal(p.utcOffsetMinutes, -210);
    });

    for (const [raw, field] of [
      [{ afterExpiry: { phone: 0 } }, "revocationInfo.afterExpiry.phone"],
      [{ afterExpiry: { default: 3 } }, "revocationInfo.afterExpiry.default"],
      [{ afterExpiry: { auth: { monthEnds: 0 } } }, "revocationInfo.afterExpiry.auth"],
      [{ afterExpiry: { auth: { monthEnds: 3, days: 1 } } }, "revocationInfo.afterExpiry.auth"],
      [{ utcOffset: "JST" }, "revocationInfo.utcOffset"],
      [{ other: 1 }, "revocationInfo.other"],
    ] as const) {
      it(`refuses ${JSON.stringify(raw)} naming ${field}`, () => {
        assert.throws(() => parseStatusAfterExpiry(raw), (e: unknown) => (e as { field?: string }).field === field);
      });
    }
  });
});
