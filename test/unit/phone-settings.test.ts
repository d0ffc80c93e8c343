import assert from "node:assert/strict";
import { CaError } from "../../ca/errors.js";
import { phoneProfile } from "../../ca/phone/phone-authorities.js";
import { defaultPhoneSettings, parsePhoneSettings } from "../../ca/phone/phone-settings.js";
import { endEntityProfile, jpkiPolicyOids } from "../../ca/profiles/end-entity-profile.js";

/** ca/phone/phone-settings.ts and the phone profile: the [U] decisions as data (docs/phone.md "Decisions"). */
describe("ca/phone: settings and profile", () => {
  it("defaults: the card kind's policy OID (the code invents none), OU=phone, ±5 minutes, three holder reasons", () => {
    assert.deepEqual(parsePhoneSettings(undefined), defaultPhoneSettings);
    assert.deepEqual(defaultPhoneSettings.policyOids, jpkiPolicyOids);
    assert.deepEqual(defaultPhoneSettings.subjectMarker, [{ type: "OU", value: "phone" }]);
    assert.equal(defaultPhoneSettings.signedAtToleranceMs, 300_000);
  });

  it("takes configured values and refuses bad ones naming the field", () => {
    const s = parsePhoneSettings({ policyOids: { sign: "1.2.392.200149.8.5.1.9" }, signedAtToleranceSeconds: 60, holderRevocationReasons: ["unspecified"] });
    assert.deepEqual(s.policyOids, { sign: "1.2.392.200149.8.5.1.9", auth: jpkiPolicyOids.auth });
    assert.equal(s.signedAtToleranceMs, 60_000);
    for (const [raw, field] of [
      [{ policyOids: { auth: "x.y" } }, "phone.policyOids.auth"],
      [{ signedAtToleranceSeconds: 5 }, "phone.signedAtToleranceSeconds"],
      [{ holderRevocationReasons: ["cACompromise"] }, "phone.holderRevocationReasons"],
      [{ subjectMarker: [{ type: "OU" }] }, "phone.subjectMarker"],
      [{ other: 1 }, "phone.other"],
    ] as const) {
      assert.throws(() => parsePhoneSettings(raw), (e: unknown) => e instanceof CaError && e.field === field, field);
    }
  });

  it("the phone profile is the card's with the phone's policy OID and subject marker; a marker of C, L or CN is refused", () => {
    const card = endEntityProfile("sign", { publicBaseUrl: "http://127.0.0.1:8080" });
    const phone = phoneProfile(card, parsePhoneSettings({ policyOids: { sign: "1.2.392.200149.8.5.1.9" } }));
    assert.equal(phone.policy.oid, "1.2.392.200149.8.5.1.9");
    assert.deepEqual(phone.subjectMarker, [{ type: "OU", value: "phone" }]);
    assert.equal(phone.personalData, true);
    assert.equal(card.subjectMarker, undefined);
    assert.throws(() => phoneProfile(card, { ...defaultPhoneSettings, subjectMarker: [{ type: "CN", value: "x" }] }), (e: unknown) => e instanceof CaError && e.field === "phone.profile.sign.subjectMarker");
  });
});
