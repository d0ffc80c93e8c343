import assert from "node:assert/strict";
import { CaError } from "../../../../ca/errors.js";
import { isFullWidthText } from "../../../../ca/residents/full-width.js";
import { isMunicipalityCode, municipalityCheckDigit, parseResidentApplication } from "../../../../ca/residents/resident-fields.js";
import { ADDRESS, NOW, sampleApplication, zeros } from "./sample-application.js";

function base(): Record<string, any> {
  return sampleApplication({}, { terminalId: "ignored", requests: [] });
}

/** Applies `path = value` (value undefined deletes) to a fresh base request. */
function withChange(path: string, value: unknown): Record<string, any> {
  const req = base();
  const keys = path.split(".");
  let obj: any = req;
  for (const k of keys.slice(0, -1)) obj = obj[k];
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete obj[last];
  else obj[last] = value;
  return req;
}

function expectError(input: unknown, kind: CaError["kind"], field: string, now = NOW): CaError {
  let caught: unknown;
  try {
    parseResidentApplication(input, now);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof CaError, "expected a CaError");
  assert.equal(caught.kind, kind, caught.message);
  assert.equal(caught.field, field);
  return caught;
}

describe("resident-fields", () => {
  it("parses the docs/api.md §4 example (with correct address flags) into a frozen typed value", () => {
    const app = parseResidentApplication(base(), NOW);
    assert.deepEqual(app, {
      municipalityCode: "131041",
      applicationDate: "2026-11-22",
      residentCode: "12345678901",
      resident: {
        name: "山田　太郎",
        nameSubstituteFlags: "00000",
        alias: null,
        aliasSubstituteFlags: null,
        dateOfBirth: "1980-02-17",
        gender: 1,
        address: ADDRESS,
        addressSubstituteFlags: zeros(ADDRESS),
        cardExpiry: "2035-02-17",
        residencePeriodEnd: null,
        underGuardianship: false,
      },
    });
    assert.ok(Object.isFrozen(app) && Object.isFrozen(app.resident));
  });

  const accepted: [string, string, unknown][] = [
    ["a name with a surrogate pair, flags counted in code points", "resident", { ...base().resident, name: "𠮷田　太郎", nameSubstituteFlags: "10000" }],
    ["full-width Latin name", "resident", { ...base().resident, name: "ＳＭＩＴＨ　ＪＯＨＮ", nameSubstituteFlags: "0000000000" }],
    ["gender 3 (unknown)", "resident.gender", 3],
    ["date of birth today", "resident.dateOfBirth", "2026-11-22"],
    ["card expiry the day after the application", "resident.cardExpiry", "2026-11-23"],
    ["a residence-period end", "resident.residencePeriodEnd", "2027-03-31"],
    ["no residence-period end key", "resident.residencePeriodEnd", undefined],
    ["no alias key", "resident.alias", undefined],
    ["an alias without flags", "resident.alias", "キム　ミンジュン"],
    ["an address of exactly 200 characters", "resident", { ...base().resident, address: "あ".repeat(200), addressSubstituteFlags: "0".repeat(200) }],
    ["address flags with substitutes", "resident.addressSubstituteFlags", "1" + zeros(ADDRESS).slice(1)],
  ];
  for (const [what, path, value] of accepted) {
    it(`accepts ${what}`, () => assert.doesNotThrow(() => parseResidentApplication(withChange(path, value), NOW)));
  }

  it("accepts an alias with its own flags and keeps them", () => {
    const req = withChange("resident.alias", "キム　ミン");
    req.resident.aliasSubstituteFlags = "00100";
    const app = parseResidentApplication(req, NOW);
    assert.equal(app.resident.alias, "キム　ミン");
    assert.equal(app.resident.aliasSubstituteFlags, "00100");
  });

  it("accepts an application dated the JST day that began at 15:00Z", () => {
    assert.doesNotThrow(() => parseResidentApplication(withChange("applicationDate", "2026-11-23"), new Date("2026-11-22T15:00:00Z")));
    expectError(withChange("applicationDate", "2026-11-23"), "unprocessable", "applicationDate", new Date("2026-11-22T14:59:59Z"));
  });

  const refused: [string, string, unknown, CaError["kind"], string][] = [
    ["municipality code with a wrong check digit", "municipalityCode", "131042", "invalid-input", "municipalityCode"],
    ["municipality code of 5 digits", "municipalityCode", "13104", "invalid-input", "municipalityCode"],
    ["municipality code as a number", "municipalityCode", 131041, "invalid-input", "municipalityCode"],
    ["application date in the future", "applicationDate", "2026-11-23", "unprocessable", "applicationDate"],
    ["application date not ISO", "applicationDate", "2026/11/22", "invalid-input", "applicationDate"],
    ["resident code of 10 digits", "residentCode", "1234567890", "invalid-input", "residentCode"],
    ["resident code with a letter", "residentCode", "1234567890a", "invalid-input", "residentCode"],
    ["resident code as a number", "residentCode", 12345678901, "invalid-input", "residentCode"],
    ["no resident object", "resident", undefined, "invalid-input", "resident"],
    ["name with an ASCII space", "resident.name", "山田 太郎", "invalid-input", "resident.name"],
    ["name in half-width katakana", "resident.name", "ﾔﾏﾀﾞ　ﾀﾛｳ", "invalid-input", "resident.name"],
    ["name in ASCII", "resident.name", "Yamada　Taro", "invalid-input", "resident.name"],
    ["name without a separator", "resident.name", "山田太郎六", "invalid-input", "resident.name"],
    ["name with two separators", "resident.name", "山田　　太郎", "invalid-input", "resident.name"],
    ["name starting with the separator", "resident.name", "　山田太郎", "invalid-input", "resident.name"],
    ["name ending with the separator", "resident.name", "山田太郎　", "invalid-input", "resident.name"],
    ["name with a zero-width space", "resident.name", "山\u200B　太郎", "invalid-input", "resident.name"],
    ["name with a combining mark", "resident.name", "か\u3099た　太", "invalid-input", "resident.name"],
    ["name with a variation selector", "resident.name", "葛\u{E0100}城　太", "invalid-input", "resident.name"],
    ["name with a no-break space", "resident.name", "山田\u00A0太郎", "invalid-input", "resident.name"],
    ["empty name", "resident.name", "", "invalid-input", "resident.name"],
    ["name as a number", "resident.name", 5, "invalid-input", "resident.name"],
    ["name flags one short", "resident.nameSubstituteFlags", "0000", "invalid-input", "resident.nameSubstituteFlags"],
    ["name flags one long", "resident.nameSubstituteFlags", "000000", "invalid-input", "resident.nameSubstituteFlags"],
    ["name flags with a 2", "resident.nameSubstituteFlags", "00200", "invalid-input", "resident.nameSubstituteFlags"],
    ["missing name flags", "resident.nameSubstituteFlags", undefined, "invalid-input", "resident.nameSubstituteFlags"],
    ["alias in ASCII", "resident.alias", "Kim", "invalid-input", "resident.alias"],
    ["alias flags without an alias", "resident.aliasSubstituteFlags", "000", "invalid-input", "resident.aliasSubstituteFlags"],
    ["gender 0", "resident.gender", 0, "invalid-input", "resident.gender"],
    ["gender 4", "resident.gender", 4, "invalid-input", "resident.gender"],
    ["gender 9", "resident.gender", 9, "invalid-input", "resident.gender"],
    ["gender as a string", "resident.gender", "1", "invalid-input", "resident.gender"],
    ["date of birth tomorrow", "resident.dateOfBirth", "2026-11-23", "unprocessable", "resident.dateOfBirth"],
    ["date of birth that does not exist", "resident.dateOfBirth", "1980-02-30", "invalid-input", "resident.dateOfBirth"],
    ["address with half-width digits", "resident.address", "東京都新宿区歌舞伎町一丁目4番1号", "invalid-input", "resident.address"],
    ["address with a line feed", "resident.address", "東京都\n新宿区", "invalid-input", "resident.address"],
    ["address flags for another length", "resident.addressSubstituteFlags", "0", "invalid-input", "resident.addressSubstituteFlags"],
    ["card expiry on the application date", "resident.cardExpiry", "2026-11-22", "unprocessable", "resident.cardExpiry"],
    ["card expiry missing", "resident.cardExpiry", undefined, "invalid-input", "resident.cardExpiry"],
    ["residence-period end not a date", "resident.residencePeriodEnd", "2027-02-29", "invalid-input", "resident.residencePeriodEnd"],
    ["guardianship as a string", "resident.underGuardianship", "false", "invalid-input", "resident.underGuardianship"],
    ["guardianship missing", "resident.underGuardianship", undefined, "invalid-input", "resident.underGuardianship"],
    ["an unknown resident field", "resident.nickname", "タロ", "invalid-input", "resident.nickname"],
    ["an unknown resident field whose key is not a field name", "resident.山田", "x", "invalid-input", "resident"],
  ];
  for (const [what, path, value, kind, field] of refused) {
    it(`refuses ${what} (${kind}, ${field})`, () => {
      const e = expectError(withChange(path, value), kind, field);
      if (typeof value === "string" && value.length > 1) assert.ok(!e.message.includes(value), "message must not echo the value");
    });
  }

  it("refuses a name over 100 characters and an address over 200 as unprocessable", () => {
    const longName = "あ".repeat(50) + "　" + "い".repeat(50);
    expectError(withChange("resident", { ...base().resident, name: longName, nameSubstituteFlags: zeros(longName) }), "unprocessable", "resident.name");
    const longAddress = "あ".repeat(201);
    expectError(withChange("resident", { ...base().resident, address: longAddress, addressSubstituteFlags: zeros(longAddress) }), "unprocessable", "resident.address");
  });

  it("counts code points, not UTF-16 units, for flags", () => {
    expectError(withChange("resident", { ...base().resident, name: "𠮷田　太郎", nameSubstituteFlags: "100000" }), "invalid-input", "resident.nameSubstituteFlags");
  });

  it("refuses alias flags of the wrong length", () => {
    const req = withChange("resident.alias", "キム");
    req.resident.aliasSubstituteFlags = "000";
    expectError(req, "invalid-input", "resident.aliasSubstituteFlags");
  });

  it("refuses a body that is not an object", () => {
    expectError("nope", "invalid-input", "body");
    expectError([], "invalid-input", "body");
  });

  it("never puts personal data in any error message", () => {
    const personal = ["山田", "太郎", "東京都", "1980-02-17", "12345678901"];
    for (const [, path, value] of refused) {
      try {
        parseResidentApplication(withChange(path, value), NOW);
      } catch (e) {
        for (const p of personal) assert.ok(!(e as Error).message.includes(p), `${path}: message leaks ${p}`);
      }
    }
  });
});

describe("municipality code check digit (JIS X 0402: weights 6,5,4,3,2, 11 − Σ mod 11, last digit)", () => {
  // Real codes: every remainder class is covered, incl. remainder 0 (→ 1) and remainder 1 (→ 0).
  const valid = ["131041", "131016", "130001", "010006", "011002", "141003", "231002", "270008", "470007", "090000", "110001", "020001"];
  for (const code of valid) {
    it(`${code} is valid`, () => {
      assert.equal(municipalityCheckDigit(code.slice(0, 5)), Number(code[5]));
      assert.ok(isMunicipalityCode(code));
    });
    const wrong = code.slice(0, 5) + ((Number(code[5]) + 1) % 10);
    it(`${wrong} is not`, () => assert.ok(!isMunicipalityCode(wrong)));
  }
});

describe("full-width text", () => {
  const table: [string, boolean][] = [
    ["山田　太郎", true],
    ["ＡＢＣ１２３", true],
    ["カタカナ・ー－", true],
    ["×÷§°±", true],
    ["ｶﾀｶﾅ", false],
    ["A", false],
    ["￦", true], // U+FFE6 FULLWIDTH WON SIGN is Fullwidth, not Halfwidth
    ["\u20A9", false], // WON SIGN is Halfwidth
    ["\uFFE8", false], // HALFWIDTH FORMS LIGHT VERTICAL
    ["\uE000", false], // private use
    ["\uD842", false], // lone surrogate
    ["\u3000", true],
    ["\u2003", false], // em space
  ];
  for (const [text, ok] of table) it(`${JSON.stringify(text)} → ${ok}`, () => assert.equal(isFullWidthText(text), ok));
});
