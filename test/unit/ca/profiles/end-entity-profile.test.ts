import assert from "node:assert/strict";
import { defaultCaProfiles } from "../../../../ca/profiles/ca-profile.js";
import {
  crlUrlOf,
  defaultCpsUri,
  defaultEndEntityProfile,
  endEntityExtensionOrder,
  endEntityProfile,
  validateEndEntityProfile,
  type EndEntityProfile,
} from "../../../../ca/profiles/end-entity-profile.js";
import { CaError } from "../../../../ca/errors.js";
import { defaultSubjectKeyPolicy } from "../../../../ca/profiles/subject-key-policy.js";
import { defaultValidityRules } from "../../../../ca/issuance/validity.js";

const defaults = { publicBaseUrl: "https://ca.example.test" };

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CaError && e.kind === "invalid-input", String(e));
    return e.field;
  }
  assert.fail("no error");
}

describe("ca/end-entity-profile", () => {
  it("signing defaults follow docs/domain.md §2", () => {
    const p = endEntityProfile("sign", defaults);
    assert.deepEqual(p.keyUsage, ["digitalSignature", "nonRepudiation"]);
    assert.deepEqual(p.policy, { oid: "1.2.392.200149.8.5.1.1.20", cpsUri: defaultCpsUri, critical: true });
    assert.equal(p.personalData, true);
    assert.equal(p.subjectLocality, true);
    assert.deepEqual(p.issuerAltName, defaultCaProfiles.sign.issuerAltName);
    assert.equal(p.crlBaseUrl, "https://ca.example.test");
    assert.equal(p.ocspUrl, "https://ca.example.test/ocsp");
    assert.deepEqual(p.subjectKeyPolicy, defaultSubjectKeyPolicy);
    assert.deepEqual(p.validity, defaultValidityRules);
    assert.ok(Object.isFrozen(p) && Object.isFrozen(p.policy) && Object.isFrozen(p.keyUsage));
  });

  it("user-auth defaults: digitalSignature, its own policy, no personal data, no locality", () => {
    const p = endEntityProfile("auth", defaults);
    assert.deepEqual(p.keyUsage, ["digitalSignature"]);
    assert.equal(p.policy.oid, "1.2.392.200149.8.5.1.3.30");
    assert.equal(p.personalData, false);
    assert.equal(p.subjectLocality, false);
    assert.deepEqual(p.issuerAltName, defaultCaProfiles.auth.issuerAltName);
  });

  it("config overrides apply (policy merged field by field)", () => {
    const p = endEntityProfile("sign", defaults, { ocspUrl: null, policy: { cpsUri: "http://cps.example.test/v2" }, validity: { ...defaultValidityRules, yearsToBirthday: 10 } });
    assert.equal(p.ocspUrl, null);
    assert.deepEqual(p.policy, { oid: "1.2.392.200149.8.5.1.1.20", cpsUri: "http://cps.example.test/v2", critical: true });
    assert.equal(p.validity.yearsToBirthday, 10);
  });

  it("has a fixed extension order and the docs/api.md §3 CRL route", () => {
    assert.deepEqual(endEntityExtensionOrder, [
      "keyUsage",
      "certificatePolicies",
      "subjectAltName",
      "issuerAltName",
      "cRLDistributionPoints",
      "authorityInfoAccess",
      "authorityKeyIdentifier",
      "subjectKeyIdentifier",
    ]);
    assert.equal(crlUrlOf("http://h", "sign-g2", 17), "http://h/crl/sign-g2/17.crl");
  });

  it("refuses bad values, naming the field", () => {
    const sign = defaultEndEntityProfile("sign", defaults);
    const auth = defaultEndEntityProfile("auth", defaults);
    const cases: [EndEntityProfile, string][] = [
      [{ ...auth, personalData: true }, "profile.endEntity.auth.personalData"],
      [{ ...auth, subjectLocality: true }, "profile.endEntity.auth.subjectLocality"],
      [{ ...sign, keyUsage: [] }, "profile.endEntity.sign.keyUsage"],
      [{ ...sign, keyUsage: ["digitalSignature", "keyCertSign"] }, "profile.endEntity.sign.keyUsage"],
      [{ ...sign, keyUsage: ["digitalSignature", "digitalSignature"] }, "profile.endEntity.sign.keyUsage"],
      [{ ...sign, keyUsage: ["fly" as "digitalSignature"] }, "profile.endEntity.sign.keyUsage"],
      [{ ...sign, policy: { ...sign.policy, oid: "1.2.x" } }, "profile.endEntity.sign.policy.oid"],
      [{ ...sign, policy: { ...sign.policy, cpsUri: "ftp://x" } }, "profile.endEntity.sign.policy.cpsUri"],
      [{ ...sign, policy: { ...sign.policy, cpsUri: "https://例え.jp/" } }, "profile.endEntity.sign.policy.cpsUri"],
      [{ ...sign, crlBaseUrl: "https://ca.example.test/" }, "profile.endEntity.sign.crlBaseUrl"],
      [{ ...sign, ocspUrl: "not a url" }, "profile.endEntity.sign.ocspUrl"],
      [{ ...sign, issuerAltName: [] }, "profile.endEntity.sign.issuerAltName"],
      [{ ...sign, issuerAltName: [{ type: "C", value: "Japan" }] }, "profile.endEntity.sign.issuerAltName"],
      [{ ...sign, subjectKeyPolicy: { rsa: { minBits: 1024, maxBits: 4096, exponent: 65537 }, ec: [] } }, "profile.endEntity.sign.subjectKeyPolicy.rsa"],
      [{ ...sign, subjectKeyPolicy: { rsa: null, ec: ["P-521" as "P-256"] } }, "profile.endEntity.sign.subjectKeyPolicy.ec"],
      [{ ...sign, subjectKeyPolicy: { rsa: null, ec: [] } }, "profile.endEntity.sign.subjectKeyPolicy"],
      [{ ...sign, validity: { ...defaultValidityRules, endTimeUtc: "25:00:00" } }, "profile.endEntity.sign.validity.endTimeUtc"],
    ];
    for (const [profile, field] of cases) assert.equal(fieldOf(() => validateEndEntityProfile(profile)), field);
  });
});
