import assert from "node:assert/strict";
import * as asn1js from "asn1js";
import {
  compareBytes,
  derBitString,
  derBoolean,
  derConcat,
  derContext,
  derInteger,
  derLength,
  derNull,
  derOctetString,
  derSequence,
  derSet,
  derTlv,
  DerTag,
} from "../../../../ca/x509/der.js";
import { DerReadError, readChildren, readElement, readWhole } from "../../../../ca/x509/der-reader.js";

const ber = (b: asn1js.BaseBlock): Uint8Array => new Uint8Array(b.toBER(false));
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const bytes = (n: number, fill = 0xab) => new Uint8Array(n).fill(fill);

describe("ca/x509/der: byte-identical to asn1js", () => {
  it("length octets: short form, then minimal long forms", () => {
    for (const n of [0, 1, 127, 128, 255, 256, 1000, 65535, 65536, 70000]) {
      const expected = ber(new asn1js.OctetString({ valueHex: bytes(n).buffer }));
      assert.equal(hex(derOctetString(bytes(n))), hex(expected), `length ${n}`);
    }
    assert.equal(hex(derLength(2 ** 24)), "8401000000");
    assert.equal(hex(derLength(127)), "7f");
    assert.equal(hex(derLength(128)), "8180");
    assert.throws(() => derLength(-1), RangeError);
    assert.throws(() => derLength(1.5), RangeError);
  });

  it("SEQUENCE and SET of encoded parts", () => {
    const a = ber(new asn1js.Integer({ value: 5 }));
    const b = ber(new asn1js.Utf8String({ value: "公的個人認証" }));
    const big = ber(new asn1js.OctetString({ valueHex: bytes(300).buffer }));
    const expected = ber(
      new asn1js.Sequence({
        value: [new asn1js.Integer({ value: 5 }), new asn1js.Utf8String({ value: "公的個人認証" }), new asn1js.OctetString({ valueHex: bytes(300).buffer })],
      }),
    );
    assert.equal(hex(derSequence(a, b, big)), hex(expected));
    assert.equal(hex(derSequence()), hex(ber(new asn1js.Sequence({ value: [] }))));
    assert.equal(hex(derSet([a])), hex(ber(new asn1js.Set({ value: [new asn1js.Integer({ value: 5 })] }))));
  });

  it("SET OF sorting follows X.690 §11.6 (shorter padded with zeros)", () => {
    const x = Uint8Array.of(0x04, 0x01, 0x02);
    const y = Uint8Array.of(0x04, 0x01, 0x01);
    assert.equal(hex(derSet([x, y], true)), "3106" + hex(y) + hex(x));
    assert.equal(hex(derSet([x, y])), "3106" + hex(x) + hex(y));
    assert.ok(compareBytes(Uint8Array.of(1), Uint8Array.of(1, 1)) < 0);
    assert.equal(compareBytes(Uint8Array.of(1), Uint8Array.of(1, 0)), 0);
  });

  it("BIT STRING with and without unused bits", () => {
    for (const [content, unused] of [
      [bytes(256, 0x5a), 0],
      [Uint8Array.of(0x06), 1],
      [Uint8Array.of(0x80), 7],
      [new Uint8Array(0), 0],
    ] as const) {
      const expected = ber(new asn1js.BitString({ valueHex: content.slice().buffer, unusedBits: unused }));
      assert.equal(hex(derBitString(content, unused)), hex(expected));
    }
    assert.throws(() => derBitString(Uint8Array.of(1), 8), RangeError);
    assert.throws(() => derBitString(new Uint8Array(0), 3), RangeError);
  });

  it("INTEGER from bigint: minimal two's complement", () => {
    const values = [0n, 1n, 127n, 128n, 255n, 256n, 32767n, 32768n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 159n, 2n ** 159n - 1n];
    for (const v of values) assert.equal(hex(derInteger(v)), hex(ber(asn1js.Integer.fromBigInt(v))), `value ${v}`);
    for (const v of [-1n, -127n, -128n, -129n, -255n, -256n, -32768n, -32769n, -(2n ** 40n)]) {
      assert.equal(hex(derInteger(v)), hex(ber(new asn1js.Integer({ value: Number(v) }))), `value ${v}`);
    }
    for (const v of [-(2n ** 64n), -(2n ** 64n) - 1n, -(2n ** 159n)]) {
      const parsed = asn1js.fromBER(derInteger(v).slice().buffer).result as asn1js.Integer;
      assert.equal(parsed.toBigInt(), v, `negative ${v} round-trips`);
    }
    assert.equal(hex(derInteger(-1n)), "0201ff");
    assert.equal(hex(derInteger(-128n)), "020180");
    assert.equal(hex(derInteger(-129n)), "0202ff7f");
    assert.equal(hex(derInteger(128n)), "02020080");
  });

  it("OCTET STRING, NULL, BOOLEAN", () => {
    assert.equal(hex(derOctetString(bytes(20))), hex(ber(new asn1js.OctetString({ valueHex: bytes(20).buffer }))));
    assert.equal(hex(derNull()), hex(ber(new asn1js.Null())));
    assert.equal(hex(derBoolean(true)), "0101ff");
    assert.equal(hex(derBoolean(true)), hex(ber(new asn1js.Boolean({ value: true }))));
    assert.equal(hex(derBoolean(false)), hex(ber(new asn1js.Boolean({ value: false }))));
  });

  it("context tags: IMPLICIT primitive and EXPLICIT constructed", () => {
    const uri = new TextEncoder().encode("http://example.test/crl/1.crl");
    const implicit = ber(new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 6 }, valueHex: uri.slice().buffer }));
    assert.equal(hex(derContext(6, uri, false)), hex(implicit));
    const inner = new asn1js.Utf8String({ value: "山田　太郎" });
    const explicit = ber(new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [inner] }));
    assert.equal(hex(derContext(0, ber(inner), true)), hex(explicit));
    assert.throws(() => derContext(31, uri, false), RangeError);
  });

  it("derTlv and derConcat", () => {
    assert.equal(hex(derTlv(DerTag.printableString, new TextEncoder().encode("JP"))), hex(ber(new asn1js.PrintableString({ value: "JP" }))));
    assert.equal(hex(derConcat(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3))), "010203");
    assert.throws(() => derTlv(0x1f, Uint8Array.of()), RangeError);
  });
});

describe("ca/x509/der-reader", () => {
  it("walks nested elements with long lengths", () => {
    const big = derOctetString(bytes(300));
    const seq = derSequence(derInteger(7n), big, derSequence(derNull()));
    const top = readWhole(seq);
    const kids = readChildren(seq, top);
    assert.deepEqual(kids.map((k) => k.tag), [0x02, 0x04, 0x30]);
    assert.equal(kids[1]!.end - kids[1]!.contentStart, 300);
    assert.equal(kids[2]!.end, seq.length);
  });

  it("refuses BER-only and truncated forms", () => {
    assert.throws(() => readElement(Uint8Array.of(0x30, 0x80, 0, 0)), DerReadError); // indefinite
    assert.throws(() => readElement(Uint8Array.of(0x04, 0x81, 0x05, 1, 2, 3, 4, 5)), DerReadError); // non-minimal
    assert.throws(() => readElement(Uint8Array.of(0x04, 0x82, 0x00, 0x90)), DerReadError); // leading zero
    assert.throws(() => readElement(Uint8Array.of(0x04, 0x05, 1, 2)), DerReadError); // truncated
    assert.throws(() => readWhole(Uint8Array.of(0x05, 0x00, 0x00)), DerReadError); // trailing
  });
});
