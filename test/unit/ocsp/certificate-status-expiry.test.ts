import assert from "node:assert/strict";
import { defaultStatusAfterExpiryPolicy, StatusAfterExpiry } from "../../../ca/revocation/status-after-expiry.js";
import type { CertificateStatusSnapshot } from "../../../ca/revocation/ocsp-ports.js";
import { decide } from "../../../ocsp/certificate-status.js";

/**
 * docs/ocsp.md "Status after expiry": the OCSP decision for an expired certificate, by the policy (the
 * default: to the end of the third month after the month of expiry, JST).
 */
const notAfter = new Date("2026-01-31T14:59:59Z");
const cutoff = new Date("2026-04-30T15:00:00Z");
const snap = (over: Partial<CertificateStatusSnapshot>): CertificateStatusSnapshot => ({
  serial: "01aa",
  caId: "auth-g1",
  status: "valid",
  revokedAt: null,
  reason: null,
  notAfter,
  ...over,
});
const policy = new StatusAfterExpiry(defaultStatusAfterExpiryPolicy);
const at = (iso: string) => ({ afterExpiry: policy, now: new Date(iso) });

describe("ocsp/certificate-status decide (status after expiry)", () => {
  it("without a policy: as recorded, whatever the date (today's behaviour)", () => {
    assert.deepEqual(decide(snap({}), "auth-g1").status, { kind: "good" });
    assert.equal(decide(snap({}), "auth-g1").statusUntil, undefined);
  });

  it("inside the period: as recorded, stored, with statusUntil = the cutoff", () => {
    for (const s of [snap({}), snap({ status: "revoked", revokedAt: new Date("2026-01-10T00:00:00Z"), reason: "keyCompromise" }), snap({ status: "hold", revokedAt: new Date("2026-01-10T00:00:00Z") })]) {
      const d = decide(s, "auth-g1", at("2026-04-30T14:59:59Z"));
      assert.equal(d.storable, true);
      assert.notEqual(d.status.kind, "unknown");
      assert.equal(d.statusUntil?.toISOString(), cutoff.toISOString());
    }
  });

  it("from the cutoff on: unknown (RFC 6960 §2.2, §4.4.4), not stored, full validity, the recorded rank kept", () => {
    const good = decide(snap({}), "auth-g1", at("2026-04-30T15:00:00Z"));
    assert.deepEqual(good, { status: { kind: "unknown" }, rank: 1, storable: false, provisional: false });
    const revoked = decide(snap({ status: "revoked", revokedAt: new Date("2026-01-10T00:00:00Z"), reason: "keyCompromise" }), "auth-g1", at("2027-01-01T00:00:00Z"));
    assert.deepEqual(revoked, { status: { kind: "unknown" }, rank: 3, storable: false, provisional: false });
  });

  it("never-issued, another generation's and pending serials are decided as before", () => {
    const late = at("2030-01-01T00:00:00Z");
    assert.equal(decide(undefined, "auth-g1", late).status.kind, "non-issued");
    assert.equal(decide(snap({ caId: "auth-g2" }), "auth-g1", late).status.kind, "non-issued");
    assert.equal(decide(snap({ status: "pending" }), "auth-g1", late).status.kind, "unknown");
    assert.equal(decide(snap({ status: "pending" }), "auth-g1", late).provisional, true);
  });

  it("a kind configured with 0 keeps today's behaviour", () => {
    const none = new StatusAfterExpiry({ ...defaultStatusAfterExpiryPolicy, byKind: { auth: { rule: "none" } } });
    const d = decide(snap({}), "auth-g1", { afterExpiry: none, now: new Date("2030-01-01T00:00:00Z") });
    assert.deepEqual(d.status, { kind: "good" });
    assert.equal(d.statusUntil, undefined);
  });
});
