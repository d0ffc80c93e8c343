import assert from "node:assert/strict";
import * as asn1js from "asn1js";
import { addYearsJst, endOfJstDay, timeDer, truncateToSecond, x509Time } from "../../../../ca/x509/time.js";

const encoded = (d: Date): { tag: number; text: string } => {
  const der = new Uint8Array(x509Time(d).toSchema().toBER(false));
  return { tag: der[0]!, text: Buffer.from(der.subarray(2)).toString("latin1") };
};

describe("ca/x509/time", () => {
  it("uses UTCTime 1950–2049 and GeneralizedTime otherwise (RFC 5280 §4.1.2.5)", () => {
    assert.deepEqual(encoded(new Date("2049-12-31T23:59:59.999Z")), { tag: 0x17, text: "491231235959Z" });
    assert.deepEqual(encoded(new Date("2050-01-01T00:00:00.000Z")), { tag: 0x18, text: "20500101000000Z" });
    assert.deepEqual(encoded(new Date("1950-01-01T00:00:00Z")), { tag: 0x17, text: "500101000000Z" });
    assert.deepEqual(encoded(new Date("1949-12-31T23:59:59Z")), { tag: 0x18, text: "19491231235959Z" });
    assert.deepEqual(encoded(new Date("9999-12-31T23:59:59Z")), { tag: 0x18, text: "99991231235959Z" });
  });

  it("truncates to the second: no fractional GeneralizedTime", () => {
    assert.deepEqual(encoded(new Date("2051-06-01T10:20:30.580Z")), { tag: 0x18, text: "20510601102030Z" });
    assert.equal(truncateToSecond(new Date("2026-01-01T00:00:00.999Z")).toISOString(), "2026-01-01T00:00:00.000Z");
    assert.equal(truncateToSecond(new Date(-1500)).getTime(), -2000);
  });

  it("a 2051 date reads back as 2051, not 1951", () => {
    const der = new Uint8Array(x509Time(new Date("2051-06-01T00:00:00Z")).toSchema().toBER(false));
    const parsed = asn1js.fromBER(der.slice().buffer).result as asn1js.GeneralizedTime;
    assert.equal(parsed.toDate().toISOString(), "2051-06-01T00:00:00.000Z");
  });

  it("timeDer is byte-identical to the pkijs Time", () => {
    for (const iso of ["2026-11-22T05:00:00.123Z", "2049-12-31T23:59:59Z", "2050-01-01T00:00:00Z", "2099-02-28T14:59:59Z", "1949-01-01T00:00:00Z"]) {
      const d = new Date(iso);
      assert.equal(Buffer.from(timeDer(d)).toString("hex"), Buffer.from(x509Time(d).toSchema().toBER(false)).toString("hex"), iso);
    }
  });

  it("endOfJstDay gives 14:59:59Z of the Japanese calendar day", () => {
    assert.equal(endOfJstDay(new Date("2026-11-22T14:59:59Z")).toISOString(), "2026-11-22T14:59:59.000Z");
    assert.equal(endOfJstDay(new Date("2026-11-22T15:00:00Z")).toISOString(), "2026-11-23T14:59:59.000Z"); // 00:00 JST on the 23rd
    assert.equal(endOfJstDay(new Date("2026-11-22T00:00:00Z")).toISOString(), "2026-11-22T14:59:59.000Z");
  });

  it("addYearsJst keeps the JST wall clock and maps 29 February to 28 February", () => {
    assert.equal(addYearsJst(new Date("2026-11-22T15:30:00Z"), 10).toISOString(), "2036-11-22T15:30:00.000Z");
    // 2028-02-29 10:00 JST → 2038-02-28 10:00 JST
    assert.equal(addYearsJst(new Date("2028-02-29T01:00:00Z"), 10).toISOString(), "2038-02-28T01:00:00.000Z");
    // …but stays on the 29th when the target year is a leap year
    assert.equal(addYearsJst(new Date("2028-02-29T01:00:00Z"), 4).toISOString(), "2032-02-29T01:00:00.000Z");
    // 2028-02-28T20:00Z is already 29 February in JST
    assert.equal(addYearsJst(new Date("2028-02-28T20:00:00Z"), 1).toISOString(), "2029-02-27T20:00:00.000Z");
  });

  it("refuses invalid dates", () => {
    assert.throws(() => x509Time(new Date("nope")), RangeError);
  });
});
