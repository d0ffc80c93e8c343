import assert from "node:assert/strict";
import { CaError } from "../../../../ca/errors.js";
import type { Random } from "../../../../ca/ports.js";
import { assertSubjectId, generateSubjectId, isSubjectId, SUBJECT_ID_OCTETS } from "../../../../ca/profiles/subject-id.js";

describe("ca/subject-id", () => {
  it("is 24 upper-case hex digits of 12 octets from the injected Random", () => {
    const requested: number[] = [];
    const random: Random = {
      bytes: (n) => {
        requested.push(n);
        return Uint8Array.from({ length: n }, (_, i) => i * 17 + 10);
      },
    };
    assert.equal(generateSubjectId(random), "0A1B2C3D4E5F708192A3B4C5");
    assert.deepEqual(requested, [SUBJECT_ID_OCTETS]);
  });

  it("differs between calls with a real source", () => {
    const random: Random = { bytes: (n) => crypto.getRandomValues(new Uint8Array(n)) };
    const ids = new Set(Array.from({ length: 100 }, () => generateSubjectId(random)));
    assert.equal(ids.size, 100);
    for (const id of ids) assert.ok(isSubjectId(id));
  });

  it("refuses a Random that returns the wrong length", () => {
    assert.throws(() => generateSubjectId({ bytes: () => new Uint8Array(3) }), CaError);
  });

  it("accepts 8–64 upper-case letters and digits only", () => {
    for (const ok of ["ABCDEFGH", "997794E9AGCIEG13221003A", "A".repeat(64)]) assert.ok(isSubjectId(ok), ok);
    for (const bad of ["ABCDEFG", "A".repeat(65), "abcdefgh", "ABCD EFGH", "ABCD-EFGH", "ＡＢＣＤＥＦＧＨ"]) {
      assert.equal(isSubjectId(bad), false, bad);
      assert.throws(() => assertSubjectId(bad), (e: unknown) => e instanceof CaError && e.field === "subjectId");
    }
  });
});
