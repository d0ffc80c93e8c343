/**
 * Issue 12: strict CSR parsing, as Boulder does — crafted, correctly signed requests whose only fault
 * is a subject string invalid for its type, a duplicate or malformed extension, or an unrecognized
 * critical extension. Each is accepted by the CSR code before issue 12 (the walker reads structure only).
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { parseCsr } from "../../../../ca/issuance/csr.js";
import { CaError } from "../../../../ca/errors.js";
import { oidDer } from "../../../../ca/x509/general-names.js";

const FIELD = "requests[1].csr";

/** DER TLV with a definite, minimal length. */
function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(content);
  const n = body.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return new Uint8Array(Buffer.concat([Buffer.from([tag, ...len]), body]));
}
const seq = (...c: Uint8Array[]): Uint8Array => tlv(0x30, ...c);
const set = (...c: Uint8Array[]): Uint8Array => tlv(0x31, ...c);
const oid = (dotted: string): Uint8Array => oidDer(dotted);
const bytes = (s: string, enc: BufferEncoding = "utf8"): Uint8Array => new Uint8Array(Buffer.from(s, enc));

const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const spki = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));

const atv = (type: string, tag: number, value: Uint8Array): Uint8Array => set(seq(oid(type), tlv(tag, value)));
const C = (tag = 0x13, value = bytes("JP")): Uint8Array => atv("2.5.4.6", tag, value);
const CN = (tag = 0x0c, value = bytes("card-0001")): Uint8Array => atv("2.5.4.3", tag, value);

const ext = (id: string, critical: boolean | Uint8Array | undefined, value = new Uint8Array([0x30, 0x00])): Uint8Array =>
  seq(oid(id), ...(critical === undefined || critical === false ? [] : [critical === true ? tlv(0x01, new Uint8Array([0xff])) : tlv(0x01, critical)]), tlv(0x04, value));
const extensionRequest = (...exts: Uint8Array[]): Uint8Array => seq(oid("1.2.840.113549.1.9.14"), set(seq(...exts)));

/** A signed CSR: subject RDNs and attributes as given. */
function csr(rdns: Uint8Array[], attributes: Uint8Array[] = []): Uint8Array {
  const info = seq(tlv(0x02, new Uint8Array([0])), seq(...rdns), spki, tlv(0xa0, ...attributes));
  const alg = seq(oid("1.2.840.113549.1.1.11"), new Uint8Array([0x05, 0x00]));
  const signature = sign("sha256", info, privateKey);
  return seq(info, alg, tlv(0x03, new Uint8Array([0]), new Uint8Array(signature)));
}

function refusal(der: Uint8Array): CaError {
  try {
    parseCsr(der, FIELD);
  } catch (e) {
    if (e instanceof CaError) return e;
    throw e;
  }
  assert.fail("expected the CSR to be refused");
}

describe("csr: strict contents (issue 12)", () => {
  const accepted: [string, Uint8Array][] = [
    ["a PrintableString country and a UTF8String CN", csr([C(), CN()])],
    ["a UTF8String CN in Japanese", csr([C(), CN(0x0c, bytes("山田カード"))])],
    ["a BMPString CN", csr([CN(0x1e, new Uint8Array(Buffer.from("カード", "utf16le").swap16()))])],
    ["an IA5String and a VisibleString", csr([atv("1.2.840.113549.1.9.1", 0x16, bytes("a@b.example")), CN(0x1a, bytes("card 1"))])],
    ["an empty subject", csr([])],
    ["critical keyUsage and a non-critical unknown extension", csr([CN()], [extensionRequest(ext("2.5.29.15", true, new Uint8Array([0x03, 0x02, 0x07, 0x80])), ext("1.2.3.4.5", undefined))])],
    ["basicConstraints, SAN and extKeyUsage, each once", csr([CN()], [extensionRequest(ext("2.5.29.19", true), ext("2.5.29.17", undefined), ext("2.5.29.37", undefined))])],
  ];
  for (const [what, der] of accepted) it(`accepts ${what}`, () => assert.doesNotThrow(() => parseCsr(der, FIELD)));

  const malformed: [string, Uint8Array][] = [
    ["a PrintableString with '@'", csr([C(0x13, bytes("J@"))])],
    ["a PrintableString with '*'", csr([CN(0x13, bytes("*.card"))])],
    ["a UTF8String that is not UTF-8 (overlong '/')", csr([CN(0x0c, new Uint8Array([0x61, 0xc0, 0xaf]))])],
    ["a UTF8String with a NUL", csr([CN(0x0c, bytes("card\u0000admin"))])],
    ["a UTF8String with a line feed (log injection)", csr([CN(0x0c, bytes("card\nfake log line"))])],
    ["a UTF8String with a C1 control", csr([CN(0x0c, bytes("card\u009b"))])],
    ["a TeletexString", csr([CN(0x14, bytes("card"))])],
    ["an IA5String with an 8-bit octet", csr([CN(0x16, new Uint8Array([0x61, 0xe9]))])],
    ["a NumericString with a letter", csr([CN(0x12, bytes("12a"))])],
    ["a BMPString with a lone surrogate", csr([CN(0x1e, new Uint8Array([0xd8, 0x00, 0x00, 0x41]))])],
    ["a UniversalString beyond U+10FFFF", csr([CN(0x1c, new Uint8Array([0x00, 0x11, 0x00, 0x00]))])],
    ["an INTEGER as a subject value", csr([CN(0x02, new Uint8Array([1]))])],
    ["the same extension twice", csr([CN()], [extensionRequest(ext("2.5.29.17", undefined), ext("2.5.29.17", undefined))])],
    ["two extensionRequest attributes", csr([CN()], [extensionRequest(ext("2.5.29.17", undefined)), extensionRequest(ext("2.5.29.15", undefined))])],
    ["an extensionRequest with two values", csr([CN()], [seq(oid("1.2.840.113549.1.9.14"), set(seq(ext("2.5.29.17", undefined)), seq(ext("2.5.29.15", undefined))))])],
    ["a critical flag that is not a DER BOOLEAN", csr([CN()], [extensionRequest(ext("2.5.29.15", new Uint8Array([0x01])))])],
    ["an extension without an OCTET STRING value", csr([CN()], [extensionRequest(seq(oid("2.5.29.15"), tlv(0x01, new Uint8Array([0xff]))))])],
  ];
  for (const [what, der] of malformed) {
    it(`refuses ${what} (400, naming the field)`, () => {
      const e = refusal(der);
      assert.equal(e.kind, "invalid-input", e.message);
      assert.equal(e.field, FIELD);
    });
  }

  it("refuses an unrecognized critical extension (422), even beside understood ones", () => {
    const e = refusal(csr([CN()], [extensionRequest(ext("2.5.29.15", true), ext("1.3.6.1.4.1.99999.1", true))]));
    assert.equal(e.kind, "unprocessable");
    assert.equal(e.field, FIELD);
    assert.match(e.message, /critical extension/);
  });

  it("never echoes the subject in the message", () => {
    const e = refusal(csr([CN(0x0c, bytes("Yamada Taro\u0007"))]));
    assert.ok(!e.message.includes("Yamada"));
  });
});
