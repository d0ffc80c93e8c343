import assert from "node:assert/strict";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { derContext, derInteger, derNull, derOctetString, derSequence } from "../../../ca/x509/der.js";
import { decodeGetRequest, OcspRequestError, parseOcspRequest } from "../../../ocsp/ocsp-request.js";
import { buildRequest, certIdOf, extension, makeOcspCa, nonceValue, type OcspTestCa } from "./fixtures.js";

const limits = { maxCertIds: 20 };
const isMalformed = (e: unknown): boolean => e instanceof OcspRequestError && e.status === "malformedRequest";
const NONCE_OID = Uint8Array.of(0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02);
const OTHER_OID = Uint8Array.of(0x06, 0x03, 0x2a, 0x03, 0x04);

describe("ocsp/ocsp-request", function () {
  this.timeout(20_000);
  let t: OcspTestCa;
  before(async () => {
    t = await makeOcspCa();
  });

  it("reads one SHA-1 CertID and keeps its DER", () => {
    const certId = certIdOf(t, "01c0ffee");
    const req = parseOcspRequest(buildRequest([certId]), limits);
    assert.equal(req.certIds.length, 1);
    const c = req.certIds[0]!;
    assert.equal(c.hash, "sha1");
    assert.equal(c.serialHex, "01c0ffee");
    assert.equal(c.canonical, true);
    assert.deepEqual(Buffer.from(c.der), Buffer.from(certId));
    assert.equal(c.issuerNameHash.length, 20);
    assert.equal(req.nonce, undefined);
  });

  it("reads SHA-256 CertIDs, several per request, and a request pkijs made", () => {
    const req = parseOcspRequest(buildRequest([certIdOf(t, "01aa", "sha256"), certIdOf(t, "01bb")]), limits);
    assert.deepEqual(req.certIds.map((c) => [c.hash, c.serialHex]), [["sha256", "01aa"], ["sha1", "01bb"]]);
    // pkijs: version v1 explicit, a requestorName absent, the same CertID.
    const r = new pkijs.OCSPRequest();
    r.tbsRequest.requestList = [new pkijs.Request({ reqCert: pkijs.CertID.fromBER(certIdOf(t, "01cc").slice().buffer) })];
    const parsed = parseOcspRequest(new Uint8Array(r.toSchema(true).toBER(false)), limits);
    assert.equal(parsed.certIds[0]!.serialHex, "01cc");
  });

  it("accepts absent hash parameters but marks the CertID non-canonical", () => {
    const certId = certIdOf(t, "01aa");
    // SEQUENCE { SEQUENCE { OID }, … }: drop the NULL (05 00) after the OID.
    const withoutNull = Buffer.from(certId).toString("hex").replace("300906052b0e03021a0500", "300706052b0e03021a");
    const der = new Uint8Array(Buffer.from(withoutNull.replace(/^30(..)/, (_, l: string) => `30${(parseInt(l, 16) - 2).toString(16).padStart(2, "0")}`), "hex"));
    const c = parseOcspRequest(buildRequest([der]), limits).certIds[0]!;
    assert.equal(c.canonical, false);
    assert.equal(c.serialHex, "01aa");
  });

  it("reads a nonce of 1 to 32 octets and keeps its extnValue (RFC 8954)", () => {
    for (const n of [1, 16, 32]) {
      const value = nonceValue(new Uint8Array(n).fill(7));
      const req = parseOcspRequest(buildRequest([certIdOf(t, "01aa")], { nonceExtnValue: value }), limits);
      assert.deepEqual(Buffer.from(req.nonce!), Buffer.from(value));
    }
  });

  it("refuses an empty, a 33-octet and a bare (not OCTET STRING) nonce, and two nonces", () => {
    for (const value of [nonceValue(new Uint8Array(0)), nonceValue(new Uint8Array(33)), new Uint8Array(16).fill(1)]) {
      assert.throws(() => parseOcspRequest(buildRequest([certIdOf(t, "01aa")], { nonceExtnValue: value }), limits), isMalformed);
    }
    const n = nonceValue(new Uint8Array(8));
    assert.throws(() => parseOcspRequest(buildRequest([certIdOf(t, "01aa")], { nonceExtnValue: n, extensions: [extension(NONCE_OID, n)] }), limits), isMalformed);
  });

  it("ignores unknown non-critical extensions, refuses unknown critical ones", () => {
    const ok = parseOcspRequest(buildRequest([certIdOf(t, "01aa")], { extensions: [extension(OTHER_OID, derNull())] }), limits);
    assert.equal(ok.certIds.length, 1);
    assert.throws(() => parseOcspRequest(buildRequest([certIdOf(t, "01aa")], { extensions: [extension(OTHER_OID, derNull(), true)] }), limits), isMalformed);
  });

  it("accepts a signed request (the signature is not what authorises)", () => {
    const tbs = derSequence(derSequence(derSequence(certIdOf(t, "01aa"))));
    const signature = derContext(0, derSequence(derSequence(Uint8Array.of(0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02)), Uint8Array.of(0x03, 0x02, 0x00, 0x01)), true);
    const req = parseOcspRequest(derSequence(tbs, signature), limits);
    assert.equal(req.certIds[0]!.serialHex, "01aa");
  });

  it("caps the CertIDs per request before parsing them (1,000 → malformedRequest)", () => {
    const one = certIdOf(t, "01aa");
    assert.equal(parseOcspRequest(buildRequest(Array(20).fill(one)), limits).certIds.length, 20);
    assert.throws(() => parseOcspRequest(buildRequest(Array(21).fill(one)), limits), isMalformed);
    assert.throws(() => parseOcspRequest(buildRequest(Array(1000).fill(one)), limits), isMalformed);
  });

  it("refuses hashes other than SHA-1/SHA-256, wrong hash lengths and bad parameters", () => {
    const md5 = Uint8Array.of(0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05);
    const h16 = derOctetString(new Uint8Array(16));
    assert.throws(() => parseOcspRequest(buildRequest([derSequence(derSequence(md5, derNull()), h16, h16, derInteger(1n))]), limits), isMalformed);
    const sha1 = Uint8Array.of(0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a);
    const h20 = derOctetString(new Uint8Array(20));
    assert.throws(() => parseOcspRequest(buildRequest([derSequence(derSequence(sha1, derNull()), h16, h16, derInteger(1n))]), limits), isMalformed);
    assert.throws(() => parseOcspRequest(buildRequest([derSequence(derSequence(sha1, derInteger(0n)), h20, h20, derInteger(1n))]), limits), isMalformed);
    assert.doesNotThrow(() => parseOcspRequest(buildRequest([derSequence(derSequence(sha1, derNull()), h20, h20, derInteger(-5n))]), limits));
  });

  it("refuses truncated, garbage, empty, trailing-byte and wrong-shape requests", () => {
    const good = buildRequest([certIdOf(t, "01aa")]);
    const cases: Uint8Array[] = [
      good.subarray(0, good.length - 1),
      good.subarray(0, 5),
      new Uint8Array(0),
      Uint8Array.from(Buffer.from("GET / HTTP/1.1\r\n\r\n")),
      new Uint8Array([...good, 0]),
      derSequence(derSequence(derSequence())), // empty requestList
      derSequence(derOctetString(good)),
      derSequence(derSequence(derContext(0, derInteger(1n), true), derSequence(derSequence(certIdOf(t, "01aa"))))), // version v2
      Uint8Array.of(0x30, 0x80, 0x00, 0x00), // indefinite length (BER, not DER)
      new Uint8Array(new asn1js.Sequence({ value: [new asn1js.Integer({ value: 1 })] }).toBER(false)),
    ];
    for (const c of cases) assert.throws(() => parseOcspRequest(c, limits), isMalformed, Buffer.from(c).toString("hex").slice(0, 40));
    for (let i = 0; i < 2000; i++) {
      const junk = Uint8Array.from({ length: 1 + (i % 90) }, (_, j) => (i * 31 + j * 17) & 0xff);
      try {
        parseOcspRequest(junk, limits);
      } catch (e) {
        assert.ok(isMalformed(e), `junk ${i} threw ${(e as Error).name}`);
      }
    }
  });

  it("decodes GET paths: URL-encoded or not, base64url too; refuses junk and oversize", () => {
    const der = buildRequest([certIdOf(t, "01aa")]);
    const b64 = Buffer.from(der).toString("base64");
    assert.deepEqual(Buffer.from(decodeGetRequest(b64, 4096)), Buffer.from(der));
    assert.deepEqual(Buffer.from(decodeGetRequest(encodeURIComponent(b64), 4096)), Buffer.from(der));
    assert.deepEqual(Buffer.from(decodeGetRequest(Buffer.from(der).toString("base64url"), 4096)), Buffer.from(der));
    for (const bad of ["", "%", "%zz", "ab$cd", "a b", "====", "YWJj====="]) assert.throws(() => decodeGetRequest(bad, 4096), isMalformed, bad);
    assert.throws(() => decodeGetRequest(Buffer.alloc(5000).toString("base64"), 4096), isMalformed);
  });
});
