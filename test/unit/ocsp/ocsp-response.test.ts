import assert from "node:assert/strict";
import { webcrypto } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { MemorySigner } from "../../../hsm/memory-signer.js";
import {
  encodeResponseData,
  generalizedTimeDer,
  ocspErrorResponse,
  signOcspResponse,
  type SingleStatus,
} from "../../../ocsp/ocsp-response.js";
import { OcspResponders } from "../../../ocsp/responders.js";
import { certIdOf, makeOcspCa, nonceValue, type OcspTestCa } from "./fixtures.js";

/**
 * The hand-written DER equals what pkijs encodes for the same ResponseData (so the fast path cannot
 * drift from the ASN.1), and the signed response parses and verifies with pkijs.
 */
const t0 = new Date("2026-11-22T10:11:12Z");
const t1 = new Date("2026-11-23T10:11:12Z");

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

function pkijsExtension(oid: string, value: Uint8Array): pkijs.Extension {
  return new pkijs.Extension({ extnID: oid, extnValue: value.slice().buffer });
}

describe("ocsp/ocsp-response", function () {
  this.timeout(20_000);
  let t: OcspTestCa;
  let responderId: Uint8Array;
  let keyHash: Uint8Array;
  let responders: OcspResponders;

  before(async () => {
    t = await makeOcspCa();
    responders = new OcspResponders({ generations: { list: async () => [t.generation] }, signerFor: async () => t.responderSigner });
    await responders.reload();
    responderId = responders.get(t.generation.id)!.responder.responderId;
    keyHash = responderId.subarray(4);
  });

  const statuses: Array<[string, SingleStatus]> = [
    ["good", { kind: "good" }],
    ["revoked keyCompromise", { kind: "revoked", revokedAt: new Date("2026-10-01T00:00:00Z"), reason: "keyCompromise" }],
    ["revoked unspecified (reason left out)", { kind: "revoked", revokedAt: new Date("2026-10-01T00:00:00Z"), reason: "unspecified" }],
    ["hold", { kind: "revoked", revokedAt: new Date("2026-10-02T03:04:05Z"), reason: "certificateHold" }],
    ["unknown", { kind: "unknown" }],
    ["non-issued", { kind: "non-issued" }],
  ];

  for (const [name, status] of statuses) {
    for (const withNonce of [false, true]) {
      it(`ResponseData for ${name}${withNonce ? " with nonce" : ""} is byte-identical to pkijs`, () => {
        const certId = certIdOf(t, "01c0ffee");
        const nonce = withNonce ? nonceValue(Uint8Array.from({ length: 16 }, (_, i) => i)) : undefined;
        const ours = encodeResponseData({ responderId, producedAt: t0, responses: [{ certId, status, thisUpdate: t0, nextUpdate: t1 }], nonce });

        const rd = new pkijs.ResponseData({
          responderID: new asn1js.OctetString({ valueHex: keyHash.slice().buffer }),
          producedAt: t0,
          responses: [
            new pkijs.SingleResponse({
              certID: pkijs.CertID.fromBER(certId.slice().buffer),
              certStatus: pkijsCertStatus(status),
              thisUpdate: t0,
              nextUpdate: t1,
            }),
          ],
        });
        const exts: pkijs.Extension[] = [];
        if (nonce) exts.push(pkijsExtension("1.3.6.1.5.5.7.48.1.2", nonce));
        if (status.kind === "non-issued") exts.push(pkijsExtension("1.3.6.1.5.5.7.48.1.9", Uint8Array.of(0x05, 0x00)));
        if (exts.length > 0) rd.responseExtensions = exts;
        const theirs = new Uint8Array(rd.toSchema(true).toBER(false));
        assert.equal(Buffer.from(ours).toString("hex"), Buffer.from(theirs).toString("hex"));
      });
    }
  }

  it("several SingleResponses are byte-identical to pkijs", () => {
    const items = statuses.map(([, s], i) => ({ certId: certIdOf(t, `01c0ff${i}0`, i % 2 ? "sha256" : "sha1"), status: s, thisUpdate: t0, nextUpdate: t1 }));
    const ours = encodeResponseData({ responderId, producedAt: t0, responses: items });
    const rd = new pkijs.ResponseData({
      responderID: new asn1js.OctetString({ valueHex: keyHash.slice().buffer }),
      producedAt: t0,
      responses: items.map((r) => new pkijs.SingleResponse({ certID: pkijs.CertID.fromBER(r.certId.slice().buffer), certStatus: pkijsCertStatus(r.status), thisUpdate: t0, nextUpdate: t1 })),
      responseExtensions: [pkijsExtension("1.3.6.1.5.5.7.48.1.9", Uint8Array.of(0x05, 0x00))],
    });
    assert.equal(Buffer.from(ours).toString("hex"), Buffer.from(rd.toSchema(true).toBER(false)).toString("hex"));
  });

  it("GeneralizedTime has whole seconds and four-digit years", () => {
    assert.equal(Buffer.from(generalizedTimeDer(new Date("2026-11-22T10:11:12.987Z"))).subarray(2).toString(), "20261122101112Z");
    assert.equal(Buffer.from(generalizedTimeDer(new Date("2051-01-02T03:04:05Z"))).subarray(2).toString(), "20510102030405Z");
    assert.equal(Buffer.from(generalizedTimeDer(new Date(0))).subarray(2).toString(), "19700101000000Z");
  });

  it("error responses are SEQUENCE { ENUMERATED status }", () => {
    assert.equal(Buffer.from(ocspErrorResponse("malformedRequest")).toString("hex"), "30030a0101");
    assert.equal(Buffer.from(ocspErrorResponse("internalError")).toString("hex"), "30030a0102");
    assert.equal(Buffer.from(ocspErrorResponse("tryLater")).toString("hex"), "30030a0103");
    assert.equal(Buffer.from(ocspErrorResponse("unauthorized")).toString("hex"), "30030a0106");
  });

  it("a signed response parses with pkijs, names the responder by key, carries its certificate and verifies", async () => {
    const entry = responders.get(t.generation.id)!;
    const tbs = encodeResponseData({ responderId, producedAt: t0, responses: [{ certId: certIdOf(t, "01aa"), status: { kind: "good" }, thisUpdate: t0, nextUpdate: t1 }] });
    const der = await signOcspResponse(tbs, entry.responder);
    const resp = pkijs.OCSPResponse.fromBER(der.slice().buffer);
    assert.equal(resp.responseStatus.valueBlock.valueDec, 0);
    const basic = pkijs.BasicOCSPResponse.fromBER(resp.responseBytes!.response.valueBlock.valueHexView.slice().buffer);
    assert.deepEqual(Buffer.from(basic.tbsResponseData.tbsView), Buffer.from(tbs));
    assert.equal(basic.certs?.length, 1);
    assert.deepEqual(Buffer.from(basic.certs![0]!.toSchema().toBER(false)), Buffer.from(t.generation.ocspResponderCertificate!));
    const engine = new pkijs.CryptoEngine({ name: "node", crypto: webcrypto as unknown as Crypto });
    assert.equal(await basic.verify({ trustedCerts: [pkijs.Certificate.fromBER(t.ca.certificate.slice().buffer)] }, engine), true);
  });

  it("refuses to sign with a key that is not the responder certificate's", async () => {
    const entry = responders.get(t.generation.id)!;
    const other = MemorySigner.generate({ type: "ec", curve: "P-256" });
    const tbs = encodeResponseData({ responderId, producedAt: t0, responses: [{ certId: certIdOf(t, "01aa"), status: { kind: "good" }, thisUpdate: t0, nextUpdate: t1 }] });
    await assert.rejects(signOcspResponse(tbs, { ...entry.responder, signer: other }), /does not verify/);
  });
});
