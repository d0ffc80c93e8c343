import assert from "node:assert/strict";
import type { ResidentEvent } from "../../ca/residents/resident-event.js";
import { certifiedFieldsUnchanged, decideRevocations } from "../../ca/revocation/revocation-policy.js";
import type { CaKind, CertificateRecord, RevocationReason } from "../../ca/types.js";
import { certificate, changesFor, event, T0 } from "../support/resident-event-fixtures.js";

/**
 * docs/domain.md §3 with a phone pair present (issue #16 item 1, ca/revocation/revocation-policy.ts): one
 * test per line of the table. The phone signing certificate follows the card signing column, the phone
 * user-auth certificate the card user-auth column, with the same reason; phone revocations are marked
 * `cascaded` (the safety valve does not count them).
 */
const phone = (serial: string, kind: CaKind, options: Parameters<typeof certificate>[2] = {}): CertificateRecord => ({ ...certificate(serial, kind, options), device: "phone" });
const cardSign = certificate("0a01", "sign");
const cardAuth = certificate("0b01", "auth");
const phoneSign = phone("1a01", "sign");
const phoneAuth = phone("1b01", "auth");
const options = { isMinor: certifiedFieldsUnchanged, now: T0 };
const aliased = { resident: { alias: "ヤマダ", aliasSubstituteFlags: "000" } };

type Column = RevocationReason | "keep";
type Expect = { sign: Column; auth: Column };
const rows: Array<{ line: string; event: ResidentEvent; expect: Expect; certs?: CertificateRecord[] }> = [
  { line: "move within or between municipalities, address re-numbering", event: event("ADDRESS_CHANGED", changesFor.ADDRESS_CHANGED), expect: { sign: "affiliationChanged", auth: "keep" } },
  { line: "name change", event: event("NAME_CHANGED", changesFor.NAME_CHANGED), expect: { sign: "affiliationChanged", auth: "keep" } },
  { line: "gender change", event: event("GENDER_CHANGED", changesFor.GENDER_CHANGED), expect: { sign: "affiliationChanged", auth: "keep" } },
  { line: "date-of-birth correction", event: event("BIRTHDATE_CORRECTED", changesFor.BIRTHDATE_CORRECTED), expect: { sign: "affiliationChanged", auth: "keep" } },
  { line: "minor correction (certified fields unchanged)", event: event("MINOR_CORRECTION", changesFor.MINOR_CORRECTION), expect: { sign: "keep", auth: "keep" } },
  {
    line: "minor correction that alters a certified field",
    event: event("MINOR_CORRECTION", { address: "東京都新宿区歌舞伎町一丁目４番２号", addressSubstituteFlags: "0".repeat(17) }),
    expect: { sign: "affiliationChanged", auth: "keep" },
  },
  {
    line: "alias registered/changed, alias in the card certificate (the phone's follows even without one recorded)",
    event: event("ALIAS_CHANGED", { alias: "ヤマダ　タロウ", aliasSubstituteFlags: "0000000" }),
    certs: [certificate("0a02", "sign", aliased), cardAuth, phoneSign, phoneAuth],
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

describe("revocation cascade: docs/domain.md §3 table with a phone pair", function () {
  for (const row of rows) {
    it(`${row.event.type}: ${row.line} → card and phone signing ${row.expect.sign}, card and phone user-auth ${row.expect.auth}`, function () {
      const certs = row.certs ?? [cardSign, cardAuth, phoneSign, phoneAuth];
      const decision = decideRevocations(row.event, certs, options);
      const reasonOf = (device: "card" | "phone", kind: CaKind): Column => {
        const serial = certs.find((c) => c.device === device && c.kind === kind)!.serial;
        return decision.revocations.find((r) => r.serial === serial)?.reason ?? "keep";
      };
      assert.deepEqual(
        { card: { sign: reasonOf("card", "sign"), auth: reasonOf("card", "auth") }, phone: { sign: reasonOf("phone", "sign"), auth: reasonOf("phone", "auth") } },
        { card: row.expect, phone: row.expect },
      );
      for (const r of decision.revocations) assert.equal(r.cascaded, certs.find((c) => c.serial === r.serial)!.device === "phone", `${r.serial} cascaded`);
      if (decision.revocations.some((r) => r.cascaded)) assert.match(decision.rule, /phone/);
    });
  }
});

describe("revocation cascade: details", function () {
  it("phone certificates are revoked pending, valid or held, never revoked or expired; the card pair is unchanged by their presence", function () {
    const certs = [
      cardSign,
      cardAuth,
      phone("1a02", "sign", { status: "hold" }),
      phone("1b02", "auth", { status: "revoked" }),
      phone("1a03", "sign", { notAfter: new Date(T0.getTime() - 1000) }),
      phone("1b03", "auth", { status: "pending" }),
    ];
    const decision = decideRevocations(event("DECEASED"), certs, options);
    assert.deepEqual(
      decision.revocations.map((r) => [r.serial, r.cascaded]),
      [
        ["0a01", false],
        ["0b01", false],
        ["1a02", true],
        ["1b03", true],
      ],
    );
    assert.deepEqual(decideRevocations(event("DECEASED"), [cardSign, cardAuth], options).revocations.map((r) => r.serial), ["0a01", "0b01"]);
  });

  it("a move keeps both user-auth certificates and revokes both signing ones with the same reason", function () {
    const decision = decideRevocations(event("ADDRESS_CHANGED", changesFor.ADDRESS_CHANGED), [phoneAuth, phoneSign, cardAuth, cardSign], options);
    assert.deepEqual(decision.revocations.map((r) => [r.serial, r.reason]), [
      ["0a01", "affiliationChanged"],
      ["1a01", "affiliationChanged"],
    ]);
  });

  it("a phone certificate whose card certificate is already revoked is still decided by its own column", function () {
    const decision = decideRevocations(event("NAME_CHANGED", changesFor.NAME_CHANGED), [certificate("0a04", "sign", { status: "revoked" }), cardAuth, phoneSign, phoneAuth], options);
    assert.deepEqual(decision.revocations.map((r) => [r.serial, r.reason, r.cascaded]), [["1a01", "affiliationChanged", true]]);
  });

  it("a certificate without a device (issued before migration 0026) is a card certificate", function () {
    const { device: _device, ...legacy } = cardSign;
    const decision = decideRevocations(event("DECEASED"), [legacy], options);
    assert.deepEqual(decision.revocations.map((r) => r.cascaded), [false]);
  });
});
