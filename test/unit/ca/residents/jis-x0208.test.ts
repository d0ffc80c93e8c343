import assert from "node:assert/strict";
import { CaError } from "../../../../ca/errors.js";
import { parseIssuanceRequest } from "../../../../ca/issuance/issuance-request.js";
import { firstUnsubstitutedOutsideJis, isJisX0208Character, jisX0208Repertoire } from "../../../../ca/residents/jis-x0208.js";
import { parseResidentApplication } from "../../../../ca/residents/resident-fields.js";
import { parseResidentEvent } from "../../../../events/resident-event-schema.js";
import { NOW, sampleApplication, zeros } from "./sample-application.js";

function refusal(fn: () => unknown): CaError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CaError) return e;
    throw e;
  }
  assert.fail("expected a CaError");
}

describe("JIS X 0208 repertoire (ca/residents/jis-x0208.ts)", () => {
  it("has the 6,879 characters of JIS X 0208:1997 plus the 4 JIS0208.TXT mapping alternates", () => {
    assert.equal(jisX0208Repertoire().size, 6879 + 4);
  });

  const inside = ["山", "田", "　", "あ", "ア", "Ａ", "０", "Ω", "Я", "─", "熙", "〜", "～", "−", "－", "￥"];
  for (const c of inside) it(`contains ${c} (U+${c.codePointAt(0)!.toString(16)})`, () => assert.ok(isJisX0208Character(c)));

  // 髙 﨑 are IBM extensions (rows 89–92), ① and ㍉ NEC row 13, 𠮷 and 😀 outside any JIS row, 丂 JIS X 0212.
  const outside = ["髙", "﨑", "①", "㍉", "𠮷", "😀", "丂", "ｱ", "A", "\u3099"];
  for (const c of outside) it(`does not contain ${c} (U+${c.codePointAt(0)!.toString(16)})`, () => assert.ok(!isJisX0208Character(c)));

  it("finds the first flag-0 character outside the set, skipping flagged ones", () => {
    assert.equal(firstUnsubstitutedOutsideJis("山田　太郎", "00000"), undefined);
    assert.equal(firstUnsubstitutedOutsideJis("𠮷田　髙郎", "10000"), 3);
    assert.equal(firstUnsubstitutedOutsideJis("𠮷田　髙郎", "10010"), undefined);
  });
});

describe("resident fields: JIS X 0208 characters and the date-of-birth range (issue 12)", () => {
  for (const [char, label] of [["😀", "an emoji"], ["𠮷", "a character outside JIS X 0208 (つちよし)"], ["髙", "an IBM extension character"], ["①", "an NEC row-13 character"]] as const) {
    it(`refuses ${label} in the name with flag 0, naming the field and not the value`, () => {
      const name = `${char}田　太郎`;
      const e = refusal(() => parseResidentApplication(sampleApplication({ name, nameSubstituteFlags: zeros(name) }), NOW));
      assert.equal(e.kind, "invalid-input");
      assert.equal(e.field, "resident.name");
      assert.ok(!e.message.includes(char) && !e.message.includes("太郎"));
    });
    it(`accepts ${label} in the name with flag 1 (already substituted)`, () => {
      const name = `${char}田　太郎`;
      assert.doesNotThrow(() => parseResidentApplication(sampleApplication({ name, nameSubstituteFlags: "1" + zeros(name).slice(1) }), NOW));
    });
  }

  it("refuses an address with an unflagged character outside JIS X 0208", () => {
    const address = "東京都新宿区髙田馬場一丁目";
    const e = refusal(() => parseResidentApplication(sampleApplication({ address, addressSubstituteFlags: zeros(address) }), NOW));
    assert.equal(e.field, "resident.address");
  });

  it("refuses an alias without flags that has a character outside JIS X 0208, accepts it flagged", () => {
    assert.equal(refusal(() => parseResidentApplication(sampleApplication({ alias: "髙　ミン" }), NOW)).field, "resident.alias");
    assert.doesNotThrow(() => parseResidentApplication(sampleApplication({ alias: "髙　ミン", aliasSubstituteFlags: "1000" }), NOW));
  });

  it("refuses a date of birth before 1868-01-01 (422) and accepts 1868-01-01", () => {
    const e = refusal(() => parseResidentApplication(sampleApplication({ dateOfBirth: "1800-01-01" }), NOW));
    assert.equal(e.kind, "unprocessable");
    assert.equal(e.field, "resident.dateOfBirth");
    assert.equal(refusal(() => parseResidentApplication(sampleApplication({ dateOfBirth: "1867-12-31" }), NOW)).field, "resident.dateOfBirth");
    assert.doesNotThrow(() => parseResidentApplication(sampleApplication({ dateOfBirth: "1868-01-01" }), NOW));
  });

  it("refuses a date of birth after the application date, even when it is not in the future", () => {
    const e = refusal(() => parseResidentApplication(sampleApplication({ dateOfBirth: "2026-11-21" }, { applicationDate: "2026-11-20" }), NOW));
    assert.equal(e.kind, "unprocessable");
    assert.equal(e.field, "resident.dateOfBirth");
  });
});

describe("issuance request: unknown fields refused at every level (issue 12)", () => {
  it("refuses an unknown top-level field, naming it", () => {
    const e = refusal(() => parseIssuanceRequest(sampleApplication({}, { isAdmin: true }), NOW));
    assert.equal(e.kind, "invalid-input");
    assert.equal(e.field, "isAdmin");
  });
  it("refuses an unknown top-level key that is not a field name without echoing it", () => {
    const e = refusal(() => parseIssuanceRequest(sampleApplication({}, { 山田太郎: 1 }), NOW));
    assert.equal(e.field, "body");
    assert.ok(!e.message.includes("山田"));
  });
  it("refuses an unknown field in resident and in a request", () => {
    assert.equal(refusal(() => parseIssuanceRequest(sampleApplication({ nickname: "タロ" }), NOW)).field, "resident.nickname");
    assert.equal(refusal(() => parseIssuanceRequest(sampleApplication({}, { requests: [{ kind: "auth", csr: "x", ca: "auth-g9" }] }), NOW)).field, "requests[0]");
  });
  it("refuses a __proto__ key (as JSON.parse makes it: an own property) at the top level and in resident", () => {
    const top = JSON.parse(JSON.stringify(sampleApplication()).replace(/^\{/, '{"__proto__":{"admin":true},')) as unknown;
    assert.equal(refusal(() => parseIssuanceRequest(top, NOW)).field, "body");
    const inResident = JSON.parse(JSON.stringify(sampleApplication()).replace('"resident":{', '"resident":{"__proto__":{"x":1},')) as unknown;
    assert.equal(refusal(() => parseIssuanceRequest(inResident, NOW)).field, "resident");
  });

  it("accepts the docs/api.md §4 fields", () => {
    assert.doesNotThrow(() => parseIssuanceRequest(sampleApplication(), NOW));
  });
});

describe("resident events: JIS X 0208 and dates of birth (issue 12)", () => {
  const event = (type: string, changes: Record<string, unknown>) => ({
    json: { eventId: "e-1", residentCode: "12345678901", type, effectiveDate: "2026-11-20", recordedAt: "2026-11-20T01:02:03Z", changes },
  });
  it("rejects a name change with an unflagged character outside JIS X 0208, applies it flagged", () => {
    const bad = parseResidentEvent(event("NAME_CHANGED", { name: "𠮷田　太郎", nameSubstituteFlags: "00000" }));
    assert.ok(!bad.ok);
    assert.match(bad.reason, /changes\.name: .*JIS X 0208/);
    assert.ok(!bad.reason.includes("𠮷"));
    assert.ok(parseResidentEvent(event("NAME_CHANGED", { name: "𠮷田　太郎", nameSubstituteFlags: "10000" })).ok);
  });
  it("rejects an address change with an emoji and an alias without flags outside JIS X 0208", () => {
    assert.ok(!parseResidentEvent(event("ADDRESS_CHANGED", { address: "東京都😀", addressSubstituteFlags: "0000" })).ok);
    assert.ok(!parseResidentEvent(event("ALIAS_CHANGED", { alias: "髙　ミン" })).ok);
  });
  it("rejects a birth-date correction to before 1868", () => {
    const r = parseResidentEvent(event("BIRTHDATE_CORRECTED", { dateOfBirth: "1800-01-01" }));
    assert.ok(!r.ok);
    assert.match(r.reason, /dateOfBirth/);
  });
});
