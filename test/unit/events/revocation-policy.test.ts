import assert from "node:assert/strict";
import type { ResidentEvent } from "../../../ca/residents/resident-event.js";
import { certifiedFieldsOf, certifiedFieldsUnchanged, decideRevocations, everyCorrectionMinor, type MinorCorrectionPredicate } from "../../../ca/revocation/revocation-policy.js";
import type { RevocationReason } from "../../../ca/types.js";
import { certificate, changesFor, event, T0 } from "../../support/resident-event-fixtures.js";

/**
 * docs/domain.md §3, one row per line of the table that a resident event decides (the operator lines are in
 * revocation-service.test.ts): which kinds are revoked, with which reason code.
 */
const sign = certificate("0a01", "sign");
const auth = certificate("0b01", "auth");
const options = { isMinor: certifiedFieldsUnchanged, now: T0 };

type Expect = { sign: RevocationReason | "keep"; auth: RevocationReason | "keep" };
const rows: Array<{ line: string; event: ResidentEvent; expect: Expect; isMinor?: MinorCorrectionPredicate; certs?: typeof sign[] }> = [
  { line: "move within or between municipalities, address re-numbering", event: event("ADDRESS_CHANGED", changesFor.ADDRESS_CHANGED), expect: { sign: "affiliationChanged", auth: "keep" } },
  { line: "name change", event: event("NAME_CHANGED", changesFor.NAME_CHANGED), expect: { sign: "affiliationChanged", auth: "keep" } },
  { line: "gender change", event: event("GENDER_CHANGED", changesFor.GENDER_CHANGED), expect: { sign: "affiliationChanged", auth: "keep" } },
  { line: "date-of-birth correction", event: event("BIRTHDATE_CORRECTED", changesFor.BIRTHDATE_CORRECTED), expect: { sign: "affiliationChanged", auth: "keep" } },
  { line: "minor correction (certified fields unchanged)", event: event("MINOR_CORRECTION", changesFor.MINOR_CORRECTION), expect: { sign: "keep", auth: "keep" } },
  {
    line: "alias registered/changed, alias in the certificate",
    event: event("ALIAS_CHANGED", { alias: "ヤマダ　タロウ", aliasSubstituteFlags: "0000000" }),
    certs: [certificate("0a02", "sign", { resident: { alias: "ヤマダ", aliasSubstituteFlags: "000" } }), auth],
    expect: { sign: "affiliationChanged", auth: "keep" },
  },
  { line: "alias registered, no alias in the certificate", event: event("ALIAS_CHANGED", changesFor.ALIAS_CHANGED), expect: { sign: "keep", auth: "keep" } },
  { line: "death", event: event("DECEASED"), expect: { sign: "cessationOfOperation", auth: "cessationOfOperation" } },
  { line: "removal from the register", event: event("REMOVED"), expect: { sign: "cessationOfOperation", auth: "cessationOfOperation" } },
  { line: "moving abroad without continued card use", event: event("EMIGRATED"), expect: { sign: "cessationOfOperation", auth: "cessationOfOperation" } },
  { line: "moving abroad with continued use", event: event("EMIGRATED_CONTINUED_USE"), expect: { sign: "affiliationChanged", auth: "keep" } },
  { line: "card re-issued", event: event("CARD_INVALIDATED", { cardReplaced: true }), expect: { sign: "superseded", auth: "superseded" } },
  { line: "card returned or abolished", event: event("CARD_INVALIDATED", {}), expect: { sign: "cessationOfOperation", auth: "cessationOfOperation" } },
  { line: "certificate content found wrong", event: event("RECORD_ERROR"), expect: { sign: "affiliationChanged", auth: "affiliationChanged" } },
];

describe("revocation policy: docs/domain.md §3 table", function () {
  for (const row of rows) {
    it(`${row.event.type}: ${row.line} → signing ${row.expect.sign}, user-auth ${row.expect.auth}`, function () {
      const certs = row.certs ?? [sign, auth];
      const decision = decideRevocations(row.event, certs, { ...options, ...(row.isMinor ? { isMinor: row.isMinor } : {}) });
      const reasonOf = (kind: "sign" | "auth"): RevocationReason | "keep" => decision.revocations.find((r) => r.kind === kind)?.reason ?? "keep";
      assert.deepEqual({ sign: reasonOf("sign"), auth: reasonOf("auth") }, row.expect);
      assert.ok(decision.rule.length > 0);
      for (const r of decision.revocations) {
        const c = certs.find((x) => x.serial === r.serial)!;
        assert.equal(r.caId, c.caId);
        assert.equal(r.partition, c.partition);
      }
    });
  }
});

describe("revocation policy: details", function () {
  it("a minor correction that alters a certified field revokes the signing certificate (default predicate)", function () {
    const e = event("MINOR_CORRECTION", { address: "東京都新宿区歌舞伎町一丁目４番２号", addressSubstituteFlags: "0".repeat(17) });
    assert.deepEqual(decideRevocations(e, [sign, auth], options).revocations.map((r) => [r.kind, r.reason]), [["sign", "affiliationChanged"]]);
  });

  it("the minor predicate is configurable: 'always' keeps both whatever changed", function () {
    const e = event("MINOR_CORRECTION", { address: "東京都新宿区歌舞伎町一丁目４番２号", addressSubstituteFlags: "0".repeat(17) });
    assert.deepEqual(decideRevocations(e, [sign, auth], { ...options, isMinor: everyCorrectionMinor }).revocations, []);
  });

  it("revokes pending and held certificates, never revoked, failed or expired ones", function () {
    const certs = [
      certificate("01", "sign", { status: "pending" }),
      certificate("02", "auth", { status: "hold" }),
      certificate("03", "sign", { status: "revoked" }),
      certificate("04", "auth", { status: "failed" }),
      certificate("05", "sign", { notAfter: new Date(T0.getTime() - 1000) }),
    ];
    assert.deepEqual(decideRevocations(event("DECEASED"), certs, options).revocations.map((r) => r.serial), ["01", "02"]);
  });

  it("reads the certified fields from what issuance recorded", function () {
    const c = certifiedFieldsOf(certificate("0a03", "sign", { resident: { alias: "ヤマダ", aliasSubstituteFlags: "000" } }));
    assert.equal(c.aliasInCertificate, true);
    assert.equal(c.address, "東京都新宿区歌舞伎町一丁目４番１号");
    assert.equal(certifiedFieldsOf(sign).aliasInCertificate, false);
    assert.equal(certifiedFieldsOf({ recorded: {} }).name, null);
  });

  it("no certificates, no revocations", function () {
    assert.deepEqual(decideRevocations(event("DECEASED"), [], options).revocations, []);
  });
});
