import assert from "node:assert/strict";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { encodeResponseData, type SingleStatus } from "../../../ocsp/ocsp-response.js";
import { OcspResponders } from "../../../ocsp/responders.js";
import { certIdOf, makeOcspCa, nonceValue, type OcspTestCa } from "./fixtures.js";

/**
 * The archiveCutoff single extension (RFC 6960 §4.4.4, docs/ocsp.md "Status after expiry"): the
 * hand-written DER equals pkijs's for every status, with and without nonce, for one and for several
 * SingleResponses.
 */
const t0 = new Date("2026-05-10T10:11:12Z");
const t1 = new Date("2026-05-11T10:11:12Z");
const cutoff = new Date("2026-01-31T15:00:00Z");
const ARCHIVE_CUTOFF = "1.3.6.1.5.5.7.48.1.6";

function pkijsCertStatus(s: SingleStatus): asn1js.BaseBlock {
  const ctx = (n: number, value?: asn1js.BaseBlock[]) =>
    value ? new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: n }, value }) : new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: n } });
  switch (s.kind) {
    case "good":
      return ctx(0);
    case "unknown":
      return ctx(2);
    case "non-issued":
      return ctx(1, [new asn1js.GeneralizedTime({ valueDate: new Date(0) }), ctx(0, [new asn1js.Enumerated({ value: 6 })])]);
    case "revoked": {
      const codes: Record<string, number> = { keyCompromise: 1, affiliationChanged: 3, superseded: 4, cessationOfOperation: 5, certificateHold: 6 };
      const v: asn1js.BaseBlock[] = [new asn1js.GeneralizedTime({ valueDate: s.revokedAt })];
      if (s.reason && s.reason !== "unspecified") v.push(ctx(0, [new asn1js.Enumerated({ value: codes[s.reason]! })]));
      return ctx(1, v);
    }
  }
}

const extension = (oid: string, value: Uint8Array): pkijs.Extension => new pkijs.Extension({ extnID: oid, extnValue: value.slice().buffer });
const archiveCutoffExtension = (at: Date): pkijs.Extension =>
  extension(ARCHIVE_CUTOFF, new Uint8Array(new asn1js.GeneralizedTime({ valueDate: at }).toBER(false)));

describe("ocsp/ocsp-response archiveCutoff (status after expiry)", function () {
  this.timeout(20_000);
  let t: OcspTestCa;
  let responderId: Uint8Array;
  let keyHash: Uint8Array;

  before(async () => {
    t = await makeOcspCa();
    const responders = new OcspResponders({ generations: { list: async () => [t.generation] }, signerFor: async () => t.responderSigner });
    await responders.reload();
    responderId = responders.get(t.generation.id)!.responder.responderId;
    keyHash = responderId.subarray(4);
  });

  const statuses: Array<[string, SingleStatus]> = [
    ["good", { kind: "good" }],
    ["revoked keyCompromise", { kind: "revoked", revokedAt: new Date("2025-10-01T00:00:00Z"), reason: "keyCompromise" }],
    ["revoked unspecified", { kind: "revoked", revokedAt: new Date("2025-10-01T00:00:00Z"), reason: "unspecified" }],
    ["hold", { kind: "revoked", revokedAt: new Date("2025-10-02T03:04:05Z"), reason: "certificateHold" }],
    ["unknown (past the cutoff)", { kind: "unknown" }],
    ["non-issued", { kind: "non-issued" }],
  ];

  const single = (certId: Uint8Array, status: SingleStatus): pkijs.SingleResponse =>
    new pkijs.SingleResponse({
      certID: pkijs.CertID.fromBER(certId.slice().buffer),
      certStatus: pkijsCertStatus(status),
      thisUpdate: t0,
      nextUpdate: t1,
      singleExtensions: [archiveCutoffExtension(cutoff)],
    });

  for (const [name, status] of statuses) {
    for (const withNonce of [false, true]) {
      it(`${name}${withNonce ? " with nonce" : ""}: byte-identical to pkijs`, () => {
        const certId = certIdOf(t, "01c0ffee");
        const nonce = withNonce ? nonceValue(Uint8Array.from({ length: 16 }, (_, i) => i)) : undefined;
        const ours = encodeResponseData({ responderId, producedAt: t0, responses: [{ certId, status, thisUpdate: t0, nextUpdate: t1, archiveCutoff: cutoff }], nonce });
        const rd = new pkijs.ResponseData({ responderID: new asn1js.OctetString({ valueHex: keyHash.slice().buffer }), producedAt: t0, responses: [single(certId, status)] });
        const exts: pkijs.Extension[] = [];
        if (nonce) exts.push(extension("1.3.6.1.5.5.7.48.1.2", nonce));
        if (status.kind === "non-issued") exts.push(extension("1.3.6.1.5.5.7.48.1.9", Uint8Array.of(0x05, 0x00)));
        if (exts.length > 0) rd.responseExtensions = exts;
        assert.equal(Buffer.from(ours).toString("hex"), Buffer.from(rd.toSchema(true).toBER(false)).toString("hex"));
      });
    }
  }

  it("several SingleResponses, each with its archiveCutoff: byte-identical to pkijs", () => {
    const items = statuses.map(([, s], i) => ({ certId: certIdOf(t, `01c0ff${i}0`, i % 2 ? "sha256" : "sha1"), status: s, thisUpdate: t0, nextUpdate: t1, archiveCutoff: cutoff }));
    const ours = encodeResponseData({ responderId, producedAt: t0, responses: items });
    const rd = new pkijs.ResponseData({
      responderID: new asn1js.OctetString({ valueHex: keyHash.slice().buffer }),
      producedAt: t0,
      responses: items.map((r) => single(r.certId, r.status)),
      responseExtensions: [extension("1.3.6.1.5.5.7.48.1.9", Uint8Array.of(0x05, 0x00))],
    });
    assert.equal(Buffer.from(ours).toString("hex"), Buffer.from(rd.toSchema(true).toBER(false)).toString("hex"));
  });

  it("pkijs reads the extension back as the cutoff", () => {
    const ours = encodeResponseData({ responderId, producedAt: t0, responses: [{ certId: certIdOf(t, "01aa"), status: { kind: "good" }, thisUpdate: t0, nextUpdate: t1, archiveCutoff: cutoff }] });
    const rd = new pkijs.ResponseData({ schema: asn1js.fromBER(ours.slice().buffer).result });
    const ext = rd.responses[0]!.singleExtensions![0]!;
    assert.equal(ext.extnID, ARCHIVE_CUTOFF);
    assert.equal(ext.critical, false);
    const time = asn1js.fromBER(ext.extnValue.valueBlock.valueHexView.slice().buffer).result as asn1js.GeneralizedTime;
    assert.equal(time.toDate().toISOString(), cutoff.toISOString());
  });
});
