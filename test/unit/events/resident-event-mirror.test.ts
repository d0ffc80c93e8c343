import assert from "node:assert/strict";
import { applyEventToMirror } from "../../../ca/residents/resident-event-mirror.js";
import { invalidityDateOf } from "../../../events/resident-event-applier.js";
import { retentionCutoff } from "../../../events/resident-history-purge.js";
import { changesFor, event, mirrorRecord, residentCode, T0 } from "../../support/resident-event-fixtures.js";

const code = residentCode(1);

describe("resident record mirror: newest wins per field", function () {
  it("an event sets the fields it carries, records their version and reports what changed", function () {
    const u = applyEventToMirror(mirrorRecord(code), event("ADDRESS_CHANGED", changesFor.ADDRESS_CHANGED), T0);
    assert.deepEqual(u.changed, ["address"]);
    assert.equal(u.next.address, changesFor.ADDRESS_CHANGED.address);
    assert.equal(u.next.name, "山田　太郎");
    assert.deepEqual(u.next.fieldVersions.address, { effectiveDate: "2026-11-20", recordedAt: "2026-11-20T01:02:03.000Z" });
    assert.equal(u.next.updatedAt.getTime(), T0.getTime());
  });

  it("an older event never overwrites a newer value", function () {
    const newer = applyEventToMirror(mirrorRecord(code), event("ADDRESS_CHANGED", changesFor.ADDRESS_CHANGED, { effectiveDate: "2026-11-20" }), T0).next;
    const older = applyEventToMirror(newer, event("ADDRESS_CHANGED", { address: "東京都港区", addressSubstituteFlags: "00000" }, { effectiveDate: "2026-11-10" }), T0);
    assert.deepEqual(older.changed, []);
    assert.deepEqual(older.olderThanRecord, ["address"]);
    assert.equal(older.dirty, false);
    assert.equal(older.next.address, changesFor.ADDRESS_CHANGED.address);
    // same effective date: the later recording wins
    const sameDayLater = applyEventToMirror(newer, event("ADDRESS_CHANGED", { address: "東京都港区", addressSubstituteFlags: "00000" }, { recordedAt: new Date("2026-11-20T05:00:00Z") }), T0);
    assert.equal(sameDayLater.next.address, "東京都港区");
  });

  it("values from issuance count as of the record's creation", function () {
    const created = mirrorRecord(code, { createdAt: new Date("2026-11-22T00:00:00Z") });
    const before = applyEventToMirror(created, event("NAME_CHANGED", changesFor.NAME_CHANGED, { effectiveDate: "2026-11-20" }), T0);
    assert.deepEqual(before.olderThanRecord, ["name"]);
    const after = applyEventToMirror(created, event("NAME_CHANGED", changesFor.NAME_CHANGED, { effectiveDate: "2026-11-23" }), T0);
    assert.deepEqual(after.changed, ["name"]);
  });

  it("an older event still sets a field that no newer event touched", function () {
    const newer = applyEventToMirror(mirrorRecord(code), event("ADDRESS_CHANGED", changesFor.ADDRESS_CHANGED, { effectiveDate: "2026-11-20" }), T0).next;
    const u = applyEventToMirror(newer, event("RECORD_ERROR", { address: "東京都港区", addressSubstituteFlags: "00000", gender: 3 }, { effectiveDate: "2026-11-15" }), T0);
    assert.deepEqual(u.changed, ["gender"]);
    assert.deepEqual(u.olderThanRecord, ["address"]);
  });

  it("death, removal and emigration set the register status; an unchanged value only moves the version", function () {
    assert.equal(applyEventToMirror(mirrorRecord(code), event("DECEASED"), T0).next.status, "deceased");
    assert.equal(applyEventToMirror(mirrorRecord(code), event("EMIGRATED_CONTINUED_USE"), T0).next.status, "emigrated");
    const same = applyEventToMirror(mirrorRecord(code), event("MINOR_CORRECTION", changesFor.MINOR_CORRECTION), T0);
    assert.deepEqual(same.changed, []);
    assert.equal(same.dirty, true);
    assert.equal(applyEventToMirror(mirrorRecord(code), event("CARD_INVALIDATED"), T0).dirty, false);
  });

  it("removing an alias clears its flags", function () {
    const withAlias = mirrorRecord(code, { alias: "ヤマダ", aliasSubstituteFlags: "000" });
    const u = applyEventToMirror(withAlias, event("ALIAS_CHANGED", { alias: null }), T0);
    assert.equal(u.next.alias, null);
    assert.equal(u.next.aliasSubstituteFlags, null);
  });
});

describe("dates of revocation and retention", function () {
  it("invalidity date: 00:00 JST of the effective date, never after the revocation", function () {
    assert.equal(invalidityDateOf("2026-11-20", T0).toISOString(), "2026-11-19T15:00:00.000Z");
    assert.equal(invalidityDateOf("2027-01-01", T0).toISOString(), T0.toISOString());
  });

  it("retention cutoff: whole calendar years back", function () {
    assert.equal(retentionCutoff(new Date("2031-11-24T00:00:00Z"), 5).toISOString(), "2026-11-24T00:00:00.000Z");
    assert.equal(retentionCutoff(new Date("2028-02-29T12:00:00Z"), 5).toISOString(), "2023-02-28T12:00:00.000Z");
  });
});
