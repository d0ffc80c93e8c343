import assert from "node:assert/strict";
import { residentEventTypes } from "../../../ca/residents/resident-event.js";
import { parseResidentEvent, type RejectedEvent } from "../../../events/resident-event-schema.js";
import { changesFor, event, wire } from "../../support/resident-event-fixtures.js";

const text = (v: unknown): { text: string } => ({ text: JSON.stringify(v) });
const rejected = (p: ReturnType<typeof parseResidentEvent>): RejectedEvent => {
  assert.equal(p.ok, false, "expected a rejection");
  return p as RejectedEvent;
};

describe("resident event schema (docs/api.md §5)", function () {
  for (const type of residentEventTypes) {
    it(`accepts ${type} with its changes on every input form`, function () {
      const w = wire(event(type, changesFor[type]));
      for (const input of [text(w), { bytes: new TextEncoder().encode(JSON.stringify(w)) }, { json: w }]) {
        const p = parseResidentEvent(input);
        assert.ok(p.ok, p.ok ? "" : p.reason);
        assert.equal(p.key, w.eventId);
        assert.equal(p.event.type, type);
        assert.equal(p.event.recordedAt.toISOString(), "2026-11-20T01:02:03.000Z");
      }
    });
  }

  it("accepts the example of docs/api.md §5", function () {
    const p = parseResidentEvent({
      text: '{ "eventId": "mun-131041-2026-000123", "residentCode": "12345678901", "type": "ADDRESS_CHANGED", "effectiveDate": "2026-11-20", "recordedAt": "2026-11-20T01:02:03Z", "changes": { "address": "東京都中野区", "addressSubstituteFlags": "000000" } }',
    });
    assert.ok(p.ok);
  });

  it("rejects malformed JSON, invalid UTF-8 and non-objects, keyed by the bytes' hash", function () {
    const a = rejected(parseResidentEvent({ text: '{"eventId": "x", ' }));
    assert.match(a.reason, /^malformed-json/);
    assert.match(a.key, /^sha256:[0-9a-f]{64}$/);
    assert.equal(a.raw, '{"eventId": "x", ');
    assert.equal(rejected(parseResidentEvent({ text: '{"eventId": "x", ' })).key, a.key, "same bytes, same key: a resend is a duplicate");
    assert.match(rejected(parseResidentEvent({ bytes: Uint8Array.from([0x7b, 0xff, 0x7d]) })).reason, /UTF-8/);
    assert.match(rejected(parseResidentEvent({ text: "[1,2]" })).reason, /JSON object/);
  });

  it("rejects an event over the size limit without parsing it", function () {
    const big = { ...wire(event("ADDRESS_CHANGED", changesFor.ADDRESS_CHANGED)), padding: "x".repeat(1_000_000) };
    const r = rejected(parseResidentEvent(text(big)));
    assert.match(r.reason, /^too-large: 1000\d{3} bytes, at most 65536$/);
    assert.ok(r.size > 1_000_000);
  });

  it("rejects an unknown type, naming the rule, and keeps what it could read", function () {
    const w: Record<string, unknown> = { ...wire(event("DECEASED")), type: "MARRIED" };
    const r = rejected(parseResidentEvent(text(w)));
    assert.match(r.reason, /^unknown-type/);
    assert.equal(r.eventId, w.eventId);
    assert.equal(r.residentCode, w.residentCode);
    assert.equal(r.type, null);
  });

  it("rejects a date in the wrong format and other bad fields, naming the field but never the value", function () {
    const base = wire(event("ADDRESS_CHANGED", changesFor.ADDRESS_CHANGED));
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...base, effectiveDate: "20261120" }, /effectiveDate: must be an ISO date/],
      [{ ...base, effectiveDate: "2026-02-30" }, /effectiveDate/],
      [{ ...base, recordedAt: "2026-11-20 01:02:03" }, /recordedAt/],
      [{ ...base, residentCode: "1234" }, /residentCode: must be 11 digits/],
      [{ ...base, eventId: "" }, /eventId/],
      [{ ...base, extra: 1 }, /unknown field extra/],
      [{ ...base, changes: { address: "Tokyo", addressSubstituteFlags: "00000" } }, /changes.address: must contain full-width/],
      [{ ...base, changes: { address: "東京都中野区" } }, /addressSubstituteFlags/],
      [{ ...base, changes: { address: "東京都中野区", addressSubstituteFlags: "0" } }, /one digit per character/],
      [{ ...base, type: "GENDER_CHANGED", changes: { gender: 4 } }, /changes.gender/],
      [{ ...base, type: "DECEASED", changes: { address: "東京都" } }, /unknown field address/],
      [{ ...base, type: "MINOR_CORRECTION", changes: {} }, /at least one field/],
    ];
    for (const [w, reason] of cases) {
      const r = rejected(parseResidentEvent(text(w)));
      assert.match(r.reason, /^invalid-field: /);
      assert.match(r.reason, reason);
      assert.ok(!r.reason.includes("Tokyo") && !r.reason.includes("20261120"), "no values in reasons");
    }
  });

  it("requires the NATS message id to equal the eventId", function () {
    const w = wire(event("DECEASED"));
    assert.ok(parseResidentEvent(text(w), { msgId: String(w.eventId) }).ok);
    assert.match(rejected(parseResidentEvent(text(w), { msgId: "other" })).reason, /Nats-Msg-Id/);
  });

  it("an alias may be removed (null) and then carries no flags", function () {
    const p = parseResidentEvent(text(wire(event("ALIAS_CHANGED", { alias: null }))));
    assert.ok(p.ok);
    assert.equal(p.event.changes.alias, null);
    assert.match(rejected(parseResidentEvent(text(wire(event("ALIAS_CHANGED", { alias: null, aliasSubstituteFlags: "0" }))))).reason, /only allowed together/);
  });
});
