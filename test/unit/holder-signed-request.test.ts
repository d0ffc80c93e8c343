import assert from "node:assert/strict";
import { createHash, sign as nodeSign, type KeyObject } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { CaError } from "../../ca/errors.js";
import { verifyHolderSignedRequest, decodeSignedRequest, auditHolderDenials, type HolderRequestExpectation } from "../../ca/holder/holder-signed-request.js";
import { FixedClock } from "../../ca/ports.js";
import type { AuditEntryInput, CertificateRecord } from "../../ca/types.js";
import { cardCertificate, signHolderRequest, type CardKeyPair } from "../support/holder-signing.js";

/**
 * ca/holder/holder-signed-request.ts: a CMS made by `openssl cms -sign` and one made with pkijs objects and
 * node:crypto verify against OUR record; every refusal names `signedRequest` and is audited once.
 */

const NOW = new Date("2026-06-01T03:00:00Z");
const expected: HolderRequestExpectation = { purpose: "phone-application", kind: "sign", device: "card", actor: "holder-portal:mp1" };

function recordOf(card: CardKeyPair, overrides: Partial<CertificateRecord> = {}): CertificateRecord {
  return {
    serial: card.serial,
    caId: "sign-g1",
    kind: "sign",
    device: "card",
    status: "valid",
    notBefore: new Date("2026-01-01T00:00:00Z"),
    notAfter: new Date("2030-01-01T00:00:00Z"),
    partition: 0,
    der: card.der,
    tbs: null,
    publicKeySha256: "00",
    subjectId: "S",
    residentCode: "12345678901",
    issuanceId: null,
    recorded: {},
    revokedAt: null,
    revocationReason: null,
    invalidityDate: null,
    createdAt: new Date("2026-01-01T00:00:00Z"),
    ...overrides,
  };
}

/** SignedData with pkijs objects; the signed attributes signed with node:crypto (pkijs `sign()` is never used). */
function pkijsSignedRequest(card: CardKeyPair, content: Record<string, unknown>, key: KeyObject = card.privateKey): Uint8Array {
  const data = new TextEncoder().encode(JSON.stringify(content));
  const cert = pkijs.Certificate.fromBER(card.der.slice().buffer);
  const attrs = new pkijs.SignedAndUnsignedAttributes({
    type: 0,
    attributes: [
      new pkijs.Attribute({ type: "1.2.840.113549.1.9.3", values: [new asn1js.ObjectIdentifier({ value: "1.2.840.113549.1.7.1" })] }),
      new pkijs.Attribute({ type: "1.2.840.113549.1.9.4", values: [new asn1js.OctetString({ valueHex: createHash("sha256").update(data).digest() })] }),
    ],
  });
  const attrsDer = new Uint8Array(attrs.toSchema().toBER(false));
  attrsDer[0] = 0x31;
  const sha256 = new pkijs.AlgorithmIdentifier({ algorithmId: "2.16.840.1.101.3.4.2.1" });
  const signerInfo = new pkijs.SignerInfo({
    version: 1,
    sid: new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber }),
    digestAlgorithm: sha256,
    signedAttrs: attrs,
    signatureAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: "1.2.840.113549.1.1.11", algorithmParams: new asn1js.Null() }),
    signature: new asn1js.OctetString({ valueHex: nodeSign("sha256", attrsDer, key) }),
  });
  const sd = new pkijs.SignedData({
    version: 1,
    digestAlgorithms: [sha256],
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: "1.2.840.113549.1.7.1", eContent: new asn1js.OctetString({ valueHex: data }) }),
    certificates: [cert],
    signerInfos: [signerInfo],
  });
  return new Uint8Array(new pkijs.ContentInfo({ contentType: "1.2.840.113549.1.7.2", content: sd.toSchema(true) }).toSchema().toBER(false));
}

describe("ca/holder/holder-signed-request: the holder's card-signed request", function () {
  this.timeout(60_000);
  let card: CardKeyPair;
  let other: CardKeyPair;
  let records: Map<string, CertificateRecord>;
  let audit: AuditEntryInput[];
  const clock = new FixedClock(NOW);
  const deps = () => ({
    certificates: { get: async (s: string) => records.get(s) },
    audit: { append: async (e: AuditEntryInput) => (audit.push(e), undefined as never) },
    clock,
    signedAtToleranceMs: 300_000,
  });
  const content = (over: Record<string, unknown> = {}) => ({ purpose: "phone-application", signedAt: NOW.toISOString(), phoneId: "p1", ...over });
  const der = (b64: string) => decodeSignedRequest(b64);

  before(() => {
    card = cardCertificate("41aa01", new Date("2026-01-01T00:00:00Z"), new Date("2030-01-01T00:00:00Z"));
    other = cardCertificate("41aa01", new Date("2026-01-01T00:00:00Z"), new Date("2030-01-01T00:00:00Z"));
  });
  beforeEach(() => {
    records = new Map([[card.serial, recordOf(card)]]);
    audit = [];
    clock.set(NOW);
  });

  async function refused(request: Uint8Array, status: CaError["kind"], message: RegExp, exp: HolderRequestExpectation = expected): Promise<void> {
    await assert.rejects(verifyHolderSignedRequest(deps(), request, exp), (e: unknown) => {
      assert.ok(e instanceof CaError);
      assert.equal(e.kind, status, e.message);
      assert.equal(e.field, "signedRequest");
      assert.match(e.message, message);
      return true;
    });
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.action, "holder.request.denied");
    assert.equal(audit[0]!.outcome, "denied");
    assert.equal(audit[0]!.actor, "holder-portal:mp1");
  }

  it("accepts `openssl cms -sign` over the content and returns our record, the content and the digest of the signed attributes", async () => {
    const v = await verifyHolderSignedRequest(deps(), der(signHolderRequest(card, content())), expected);
    assert.equal(v.certificate.serial, card.serial);
    assert.equal(v.content.phoneId, "p1");
    assert.match(v.digest, /^[0-9a-f]{64}$/);
    assert.equal(audit.length, 0);
  });

  it("accepts a SignedData made with pkijs objects and node:crypto", async () => {
    const v = await verifyHolderSignedRequest(deps(), pkijsSignedRequest(card, content()), expected);
    assert.equal(v.content.purpose, "phone-application");
  });

  it("refuses another key's signature over the same certificate (signature does not verify)", async () => {
    await refused(pkijsSignedRequest(card, content(), other.privateKey), "unprocessable", /signature does not verify/);
  });

  it("refuses a certificate that is not byte-equal to our record (same serial, another certificate)", async () => {
    await refused(der(signHolderRequest(other, content())), "unprocessable", /not one this CA issued/);
  });

  it("refuses an unknown serial", async () => {
    records.clear();
    await refused(der(signHolderRequest(card, content())), "unprocessable", /not one this CA issued/);
  });

  for (const [what, change, message] of [
    ["held", { status: "hold" }, /on hold/],
    ["revoked", { status: "revoked" }, /not valid/],
    ["expired", { notAfter: new Date("2026-05-01T00:00:00Z") }, /validity period/],
    ["a user-auth card certificate", { kind: "auth" }, /signing key/],
    ["a phone certificate", { device: "phone" }, /card certificate/],
  ] as const) {
    it(`refuses ${what}`, async () => {
      records.set(card.serial, recordOf(card, change as Partial<CertificateRecord>));
      await refused(der(signHolderRequest(card, content())), "unprocessable", message);
    });
  }

  it("refuses another purpose: a consent cannot be replayed as an application", async () => {
    await refused(der(signHolderRequest(card, content({ purpose: "consent-grant" }))), "unprocessable", /purpose/);
  });

  it("refuses signedAt outside ±5 minutes, accepts it inside", async () => {
    const at = (ms: number) => new Date(NOW.getTime() + ms).toISOString();
    await refused(der(signHolderRequest(card, content({ signedAt: at(-301_000) }))), "unprocessable", /signedAt/);
    audit = [];
    await refused(der(signHolderRequest(card, content({ signedAt: at(301_000) }))), "unprocessable", /signedAt/);
    await verifyHolderSignedRequest(deps(), der(signHolderRequest(card, content({ signedAt: at(-299_000) }))), expected);
  });

  it("refuses a content changed after signing (message digest)", async () => {
    const good = pkijsSignedRequest(card, content({ phoneId: "AAAA" }));
    const i = Buffer.from(good).indexOf(Buffer.from("AAAA"));
    const bad = Uint8Array.from(good);
    bad[i] = "B".charCodeAt(0);
    await refused(bad, "unprocessable", /message digest/);
  });

  it("refuses garbage and non-base64 as invalid input naming signedRequest", async () => {
    await refused(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01), "invalid-input", /./);
    assert.throws(() => decodeSignedRequest("not base64!"), (e: unknown) => e instanceof CaError && e.field === "signedRequest");
  });

  it("passes a store failure through as it is (not a 400, not audited as a denial)", async () => {
    const failing = { ...deps(), certificates: { get: async () => Promise.reject(new Error("connection terminated")) } };
    await assert.rejects(verifyHolderSignedRequest(failing, der(signHolderRequest(card, content())), expected), (e: unknown) => !(e instanceof CaError) && (e as Error).message === "connection terminated");
    assert.equal(audit.length, 0);
  });

  it("auditHolderDenials audits a later refusal (a replay) once, and a verifier refusal not twice", async () => {
    await assert.rejects(auditHolderDenials(deps(), expected, async () => { throw new CaError("conflict", "this signed request was already used", { field: "signedRequest" }); }));
    assert.equal(audit.length, 1);
    audit = [];
    await assert.rejects(auditHolderDenials(deps(), expected, () => verifyHolderSignedRequest(deps(), der(signHolderRequest(card, content({ purpose: "x" }))), expected)));
    assert.equal(audit.length, 1);
  });
});
