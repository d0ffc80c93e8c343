import assert from "node:assert/strict";
import { CaError } from "../../../../ca/errors.js";
import { localityOf, prefectureNames, prefectureOf, validateMunicipalityNames } from "../../../../ca/residents/municipality.js";
import { isPrintableString } from "../../../../ca/x509/name.js";

describe("ca/municipality", () => {
  it("has the 47 prefectures in JIS X 0401 order, as PrintableString", () => {
    assert.equal(prefectureNames.length, 47);
    assert.equal(new Set(prefectureNames).size, 47);
    for (const name of prefectureNames) assert.ok(isPrintableString(name), name);
    assert.equal(prefectureOf("011002"), "Hokkaido");
    assert.equal(prefectureOf("131041"), "Tokyo");
    assert.equal(prefectureOf("141003"), "Kanagawa");
    assert.equal(prefectureOf("232017"), "Aichi");
    assert.equal(prefectureOf("271004"), "Osaka");
    assert.equal(prefectureOf("282014"), "Hyogo");
    assert.equal(prefectureOf("392014"), "Kochi");
    assert.equal(prefectureOf("472018"), "Okinawa");
  });

  it("refuses codes without a prefecture", () => {
    for (const code of ["001000", "481000", "99999", "abcdef", "1310411"]) {
      assert.throws(() => prefectureOf(code), (e: unknown) => e instanceof CaError && e.field === "municipalityCode");
    }
  });

  it("names the municipality from the table, else by its code", () => {
    const table = validateMunicipalityNames({ "131041": "Shinjuku-ku", "132217": "Kiyose-shi" });
    assert.deepEqual(localityOf("131041", table), { prefecture: "Tokyo", municipality: "Shinjuku-ku" });
    assert.deepEqual(localityOf("132217", table), { prefecture: "Tokyo", municipality: "Kiyose-shi" });
    assert.deepEqual(localityOf("011002", table), { prefecture: "Hokkaido", municipality: "011002" });
    assert.deepEqual(localityOf("472018"), { prefecture: "Okinawa", municipality: "472018" });
    assert.ok(Object.isFrozen(table));
  });

  it("validates the table once, naming the bad entry", () => {
    const field = (table: Record<string, unknown>): string | undefined => {
      try {
        validateMunicipalityNames(table);
      } catch (e) {
        assert.ok(e instanceof CaError);
        return e.field;
      }
      return "no error";
    };
    assert.equal(field({ "131042": "Shinjuku-ku" }), "profile.municipalityNames.131042"); // wrong check digit
    assert.equal(field({ "131041": "" }), "profile.municipalityNames.131041");
    assert.equal(field({ "131041": "a\nb" }), "profile.municipalityNames.131041");
    assert.equal(field({ "131041": 7 }), "profile.municipalityNames.131041");
    assert.equal(field({ "131041": "x".repeat(129) }), "profile.municipalityNames.131041");
    assert.equal(field({ tokyo: "Tokyo" }), "profile.municipalityNames");
  });
});
