import assert from "node:assert/strict";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { CaError } from "../../../../ca/errors.js";
import { buildName, encodeName, formatName, isPrintableString, nameDer, readName } from "../../../../ca/x509/name.js";

/** [oid, universal tag number, value] of each RDN, asserting one ATV per SET. */
function rdnsOf(der: Uint8Array): [string, number, string][] {
  const seq = asn1js.fromBER(der.slice().buffer).result as asn1js.Sequence;
  return seq.valueBlock.value.map((set) => {
    assert.ok(set instanceof asn1js.Set);
    assert.equal(set.valueBlock.value.length, 1, "exactly one AttributeTypeAndValue per RDN");
    const atv = set.valueBlock.value[0] as asn1js.Sequence;
    const [oid, value] = atv.valueBlock.value as [asn1js.ObjectIdentifier, asn1js.BaseStringBlock];
    return [oid.valueBlock.toString(), value.idBlock.tagNumber, value.valueBlock.value as string];
  });
}

const PRINTABLE = 19;
const UTF8 = 12;

describe("ca/x509/name", () => {
  it("builds SEQUENCE OF SET{one ATV} in the given order with default string types", () => {
    const { der, rdns } = buildName([
      { type: "C", value: "JP" },
      { type: "O", value: "JPKI" },
      { type: "OU", value: "JPKI for digital signature" },
      { type: "OU", value: "Japan Agency for Local Authority Information Systems" },
      { type: "L", value: "東京都" },
      { type: "CN", value: "user@example" },
    ]);
    assert.deepEqual(rdnsOf(der), [
      ["2.5.4.6", PRINTABLE, "JP"],
      ["2.5.4.10", PRINTABLE, "JPKI"],
      ["2.5.4.11", PRINTABLE, "JPKI for digital signature"],
      ["2.5.4.11", PRINTABLE, "Japan Agency for Local Authority Information Systems"],
      ["2.5.4.7", UTF8, "東京都"],
      ["2.5.4.3", UTF8, "user@example"], // '@' is not in the PrintableString alphabet
    ]);
    assert.equal(Buffer.from(nameDer(rdns)).toString("hex"), Buffer.from(der).toString("hex"), "pkijs object encodes the same bytes");
    assert.equal(rdns.typesAndValues.length, 6);
  });

  it("differs from pkijs' own multi-valued encoding (the trap it avoids)", () => {
    const attrs = [
      new pkijs.AttributeTypeAndValue({ type: "2.5.4.6", value: new asn1js.PrintableString({ value: "JP" }) }),
      new pkijs.AttributeTypeAndValue({ type: "2.5.4.3", value: new asn1js.PrintableString({ value: "x" }) }),
    ];
    const multi = new Uint8Array(new pkijs.RelativeDistinguishedNames({ typesAndValues: attrs }).toSchema().toBER(false));
    const ours = encodeName([{ type: "C", value: "JP" }, { type: "CN", value: "x" }]);
    assert.notEqual(Buffer.from(multi).toString("hex"), Buffer.from(ours).toString("hex"));
    assert.throws(() => rdnsOf(multi));
    // readName flattens a multi-valued RDN rather than losing attributes.
    assert.deepEqual(readName(multi).map((a) => a.type), ["C", "CN"]);
  });

  it("honours forced string types and refuses impossible ones", () => {
    assert.deepEqual(rdnsOf(encodeName([{ type: "O", value: "JPKI", stringType: "utf8" }])), [["2.5.4.10", UTF8, "JPKI"]]);
    assert.throws(() => encodeName([{ type: "O", value: "公的", stringType: "printable" }]), CaError);
    assert.throws(() => encodeName([{ type: "C", value: "JP", stringType: "utf8" }]), CaError);
    assert.throws(() => encodeName([{ type: "C", value: "jp" }]), CaError);
    assert.throws(() => encodeName([{ type: "C", value: "JPN" }]), CaError);
  });

  it("refuses empty names, empty values, control characters, over-long values, unknown types", () => {
    assert.throws(() => encodeName([]), CaError);
    assert.throws(() => encodeName([{ type: "CN", value: "" }]), CaError);
    assert.throws(() => encodeName([{ type: "CN", value: "a\nb" }]), CaError);
    assert.throws(() => encodeName([{ type: "CN", value: "x".repeat(65) }]), CaError);
    assert.doesNotThrow(() => encodeName([{ type: "CN", value: "あ".repeat(64) }])); // bounds count characters
    assert.doesNotThrow(() => encodeName([{ type: "L", value: "x".repeat(128) }]));
    assert.throws(() => encodeName([{ type: "XX", value: "x" }]), CaError);
  });

  it("accepts dotted OIDs as attribute types", () => {
    assert.deepEqual(rdnsOf(encodeName([{ type: "2.5.4.5", value: "12345" }])), [["2.5.4.5", PRINTABLE, "12345"]]);
  });

  it("reads and formats names back", () => {
    const der = encodeName([
      { type: "C", value: "JP" },
      { type: "O", value: "公的個人認証サービス" },
      { type: "OU", value: "署名用認証局" },
    ]);
    assert.equal(formatName(der), "C=JP, O=公的個人認証サービス, OU=署名用認証局");
    assert.deepEqual(
      readName(der).map((a) => a.stringType),
      ["PrintableString", "UTF8String", "UTF8String"],
    );
  });

  it("knows the PrintableString alphabet", () => {
    assert.ok(isPrintableString("A-Z a-z 0-9 '()+,-./:=?"));
    for (const c of ["@", "_", "&", "*", "é", "　"]) assert.equal(isPrintableString(c), false, c);
  });
});
