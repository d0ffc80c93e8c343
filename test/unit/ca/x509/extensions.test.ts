import assert from "node:assert/strict";
import { createHash, createPublicKey } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { CaError } from "../../../../ca/errors.js";
import {
  authorityInfoAccessExtension,
  authorityKeyIdentifierExtension,
  basicConstraintsExtension,
  certificatePoliciesExtension,
  crlDistributionPointsExtension,
  extensionDer,
  extKeyUsageExtension,
  issuerAltNameExtension,
  keyIdentifier,
  keyUsageBitString,
  keyUsageExtension,
  ocspNoCheckExtension,
  subjectAltNameExtension,
  subjectKeyIdentifierExtension,
} from "../../../../ca/x509/extensions.js";
import { ipAddressOctets } from "../../../../ca/x509/general-names.js";
import { MemorySigner } from "../../../../hsm/memory-signer.js";

const hex = (b: Uint8Array | ArrayBuffer): string => Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b).toString("hex");
const value = (e: pkijs.Extension): Uint8Array => new Uint8Array(e.extnValue.valueBlock.valueHexView);
const parse = (b: Uint8Array): asn1js.BaseBlock => {
  const r = asn1js.fromBER(b.slice().buffer);
  assert.notEqual(r.offset, -1);
  return r.result;
};
const children = (b: asn1js.BaseBlock): asn1js.BaseBlock[] => (b as asn1js.Constructed).valueBlock.value;
const schemaHex = (o: { toSchema(): asn1js.BaseBlock }): string => hex(o.toSchema().toBER(false));

describe("ca/x509/extensions", () => {
  let rsa: MemorySigner;
  let ec: MemorySigner;
  before(() => {
    rsa = MemorySigner.generate({ type: "rsa", bits: 2048 });
    ec = MemorySigner.generate({ type: "ec", curve: "P-384" });
  });

  describe("keyUsage", () => {
    it("encodes named bits in RFC 5280 order as a minimal DER BIT STRING", () => {
      assert.equal(hex(keyUsageBitString(["keyCertSign", "cRLSign"])), "03020106");
      assert.equal(hex(keyUsageBitString(["cRLSign", "keyCertSign", "cRLSign"])), "03020106");
      assert.equal(hex(keyUsageBitString(["digitalSignature"])), "03020780");
      assert.equal(hex(keyUsageBitString(["digitalSignature", "nonRepudiation"])), "030206c0");
      assert.equal(hex(keyUsageBitString(["digitalSignature", "keyEncipherment"])), "030205a0");
      assert.equal(hex(keyUsageBitString(["encipherOnly"])), "03020001");
      assert.equal(hex(keyUsageBitString(["decipherOnly"])), "0303070080");
      assert.throws(() => keyUsageBitString([]), CaError);
    });
    it("is critical by default", () => {
      const e = keyUsageExtension(["digitalSignature"]);
      assert.equal(e.extnID, "2.5.29.15");
      assert.equal(e.critical, true);
      assert.equal(hex(extensionDer(e)), "300e0603551d0f0101ff040403020780");
      assert.equal(keyUsageExtension(["digitalSignature"], false).critical, false);
    });
  });

  describe("basicConstraints", () => {
    it("omits the DEFAULT FALSE cA and matches pkijs for the rest", () => {
      assert.equal(hex(value(basicConstraintsExtension({ ca: true }))), "30030101ff");
      assert.equal(hex(value(basicConstraintsExtension({ ca: false }))), "3000");
      assert.equal(hex(value(basicConstraintsExtension({ ca: true, pathLength: 0 }))), schemaHex(new pkijs.BasicConstraints({ cA: true, pathLenConstraint: 0 })));
      assert.equal(basicConstraintsExtension({ ca: true }).critical, true);
      assert.throws(() => basicConstraintsExtension({ ca: false, pathLength: 1 }), CaError);
      assert.throws(() => basicConstraintsExtension({ ca: true, pathLength: -1 }), CaError);
    });
  });

  describe("key identifiers", () => {
    it("SKI is SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 method 1), RSA", () => {
      const pkcs1 = createPublicKey({ key: Buffer.from(rsa.publicKey), format: "der", type: "spki" }).export({ type: "pkcs1", format: "der" });
      assert.equal(hex(keyIdentifier(rsa.publicKey)), createHash("sha1").update(pkcs1).digest("hex"));
    });
    it("…and EC (the uncompressed point)", () => {
      const jwk = createPublicKey({ key: Buffer.from(ec.publicKey), format: "der", type: "spki" }).export({ format: "jwk" });
      const point = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]);
      assert.equal(hex(keyIdentifier(ec.publicKey)), createHash("sha1").update(point).digest("hex"));
    });
    it("SKI and AKI are non-critical and shaped as RFC 5280 says", () => {
      const ski = subjectKeyIdentifierExtension(ec.publicKey);
      assert.equal(ski.critical, false);
      assert.equal(hex(value(ski)), "0414" + hex(keyIdentifier(ec.publicKey)));
      const aki = authorityKeyIdentifierExtension(keyIdentifier(rsa.publicKey));
      assert.equal(aki.critical, false);
      assert.equal(hex(value(aki)), "30168014" + hex(keyIdentifier(rsa.publicKey)));
      const parsed = pkijs.AuthorityKeyIdentifier.fromBER(value(aki).slice().buffer);
      assert.equal(hex(parsed.keyIdentifier!.valueBlock.valueHexView), hex(keyIdentifier(rsa.publicKey)));
      assert.equal(parsed.authorityCertIssuer, undefined);
    });
    it("refuses a malformed SPKI", () => {
      assert.throws(() => keyIdentifier(Uint8Array.of(0x30, 0x00)), CaError);
    });
  });

  describe("subjectAltName / issuerAltName", () => {
    it("otherName is [0] { type-id, [0] EXPLICIT UTF8String } with no extra wrapping", () => {
      const e = subjectAltNameExtension([
        { type: "otherName", typeId: "1.2.392.200149.8.5.5.1", value: "山田　太郎" },
        { type: "otherName", typeId: "1.2.392.200149.8.5.5.4", value: "319800217" },
      ]);
      assert.equal(e.extnID, "2.5.29.17");
      assert.equal(e.critical, false);
      const names = children(parse(value(e)));
      assert.equal(names.length, 2);
      const first = names[0]!;
      assert.deepEqual([first.idBlock.tagClass, first.idBlock.tagNumber, first.idBlock.isConstructed], [3, 0, true]);
      const [oid, explicit] = children(first) as [asn1js.ObjectIdentifier, asn1js.Constructed];
      assert.equal(oid.valueBlock.toString(), "1.2.392.200149.8.5.5.1");
      assert.deepEqual([explicit.idBlock.tagClass, explicit.idBlock.tagNumber, explicit.idBlock.isConstructed], [3, 0, true]);
      const [utf8] = children(explicit) as [asn1js.Utf8String];
      assert.equal(utf8.idBlock.tagNumber, 12);
      assert.equal(utf8.valueBlock.value, "山田　太郎");
      assert.equal(children(explicit).length, 1);
      // Same bytes as the hand-made pkijs element of docs/traps.md §3 (the documented workaround).
      const workaround = new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 0 },
        value: [
          new asn1js.ObjectIdentifier({ value: "1.2.392.200149.8.5.5.1" }),
          new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [new asn1js.Utf8String({ value: "山田　太郎" })] }),
        ],
      });
      assert.equal(hex(new Uint8Array(first.toBER(false))), hex(workaround.toBER(false)));
    });

    it("directoryName is [4] EXPLICIT Name with UTF8 Japanese text", () => {
      const e = issuerAltNameExtension([
        { type: "directoryName", name: [{ type: "C", value: "JP" }, { type: "O", value: "公的個人認証サービス" }] },
      ]);
      assert.equal(e.extnID, "2.5.29.18");
      assert.equal(e.critical, false);
      const gn = children(parse(value(e)))[0]!;
      assert.deepEqual([gn.idBlock.tagClass, gn.idBlock.tagNumber, gn.idBlock.isConstructed], [3, 4, true]);
      const name = new pkijs.RelativeDistinguishedNames({ schema: children(gn)[0]! });
      assert.equal(name.typesAndValues[1]!.value.valueBlock.value, "公的個人認証サービス");
      assert.equal(name.typesAndValues[1]!.value.idBlock.tagNumber, 12);
    });

    it("dNSName, iPAddress, URI and rfc822Name match pkijs GeneralName encodings", () => {
      const ours = subjectAltNameExtension([
        { type: "dNSName", value: "localhost" },
        { type: "iPAddress", value: "127.0.0.1" },
        { type: "iPAddress", value: "::1" },
        { type: "uniformResourceIdentifier", value: "http://example.test/" },
        { type: "rfc822Name", value: "ca@example.test" },
      ]);
      const theirs = new pkijs.GeneralNames({
        names: [
          new pkijs.GeneralName({ type: 2, value: "localhost" }),
          new pkijs.GeneralName({ type: 7, value: new asn1js.OctetString({ valueHex: Uint8Array.of(127, 0, 0, 1).buffer }) }),
          new pkijs.GeneralName({ type: 7, value: new asn1js.OctetString({ valueHex: ipAddressOctets("::1").slice().buffer }) }),
          new pkijs.GeneralName({ type: 6, value: "http://example.test/" }),
          new pkijs.GeneralName({ type: 1, value: "ca@example.test" }),
        ],
      });
      assert.equal(hex(value(ours)), schemaHex(theirs));
      assert.equal(subjectAltNameExtension([{ type: "dNSName", value: "a.test" }], true).critical, true);
    });

    it("parses IP addresses into network-order octets", () => {
      assert.equal(hex(ipAddressOctets("127.0.0.1")), "7f000001");
      assert.equal(hex(ipAddressOctets("::1")), "00000000000000000000000000000001");
      assert.equal(hex(ipAddressOctets("2001:db8::8:800:200c:417a")), "20010db80000000000080800200c417a");
      assert.equal(hex(ipAddressOctets("::ffff:192.0.2.1")), "00000000000000000000ffffc0000201");
      assert.equal(hex(ipAddressOctets("fe80::")), "fe800000000000000000000000000000");
      assert.throws(() => ipAddressOctets("localhost"), CaError);
      assert.throws(() => ipAddressOctets("256.0.0.1"), CaError);
    });

    it("refuses empty lists and bad values", () => {
      assert.throws(() => subjectAltNameExtension([]), CaError);
      assert.throws(() => subjectAltNameExtension([{ type: "dNSName", value: "bad host" }]), CaError);
      assert.throws(() => subjectAltNameExtension([{ type: "otherName", typeId: "1.2.392.200149.8.5.5.3", value: "" }]), CaError);
      assert.throws(() => subjectAltNameExtension([{ type: "uniformResourceIdentifier", value: "http://é" }]), CaError);
    });
  });

  describe("certificatePolicies", () => {
    it("has the policy OID and a CPS URI qualifier, criticality as asked", () => {
      const e = certificatePoliciesExtension([{ oid: "1.2.392.200149.8.5.1.1.20", cpsUri: "http://example.test/cps" }], true);
      assert.equal(e.extnID, "2.5.29.32");
      assert.equal(e.critical, true);
      const theirs = new pkijs.CertificatePolicies({
        certificatePolicies: [
          new pkijs.PolicyInformation({
            policyIdentifier: "1.2.392.200149.8.5.1.1.20",
            policyQualifiers: [
              new pkijs.PolicyQualifierInfo({ policyQualifierId: "1.3.6.1.5.5.7.2.1", qualifier: new asn1js.IA5String({ value: "http://example.test/cps" }) }),
            ],
          }),
        ],
      });
      assert.equal(hex(value(e)), schemaHex(theirs));
      const bare = certificatePoliciesExtension([{ oid: "1.2.392.200149.8.5.1.3.30" }], false);
      assert.equal(bare.critical, false);
      assert.equal(hex(value(bare)), schemaHex(new pkijs.CertificatePolicies({ certificatePolicies: [new pkijs.PolicyInformation({ policyIdentifier: "1.2.392.200149.8.5.1.3.30" })] })));
      assert.throws(() => certificatePoliciesExtension([{ oid: "1.2.3" }, { oid: "1.2.3" }], false), CaError);
    });
  });

  it("cRLDistributionPoints: one DistributionPoint with a fullName URI, like pkijs", () => {
    const uri = "http://127.0.0.1:8080/crl/sign-g1/17.crl";
    const e = crlDistributionPointsExtension(uri);
    assert.equal(e.extnID, "2.5.29.31");
    assert.equal(e.critical, false);
    const theirs = new pkijs.CRLDistributionPoints({
      distributionPoints: [new pkijs.DistributionPoint({ distributionPoint: [new pkijs.GeneralName({ type: 6, value: uri })] })],
    });
    assert.equal(hex(value(e)), schemaHex(theirs));
  });

  it("authorityInfoAccess: OCSP then caIssuers, never critical, like pkijs", () => {
    const e = authorityInfoAccessExtension({ ocsp: "http://127.0.0.1:8080/ocsp", caIssuers: "http://127.0.0.1:8080/ca/sign-g1.crt" });
    assert.equal(e.extnID, "1.3.6.1.5.5.7.1.1");
    assert.equal(e.critical, false);
    const theirs = new pkijs.InfoAccess({
      accessDescriptions: [
        new pkijs.AccessDescription({ accessMethod: "1.3.6.1.5.5.7.48.1", accessLocation: new pkijs.GeneralName({ type: 6, value: "http://127.0.0.1:8080/ocsp" }) }),
        new pkijs.AccessDescription({ accessMethod: "1.3.6.1.5.5.7.48.2", accessLocation: new pkijs.GeneralName({ type: 6, value: "http://127.0.0.1:8080/ca/sign-g1.crt" }) }),
      ],
    });
    assert.equal(hex(value(e)), schemaHex(theirs));
    assert.equal(children(parse(value(authorityInfoAccessExtension({ ocsp: "http://x.test/" })))).length, 1);
    assert.throws(() => authorityInfoAccessExtension({}), CaError);
  });

  it("extKeyUsage by name or OID, non-critical by default, like pkijs", () => {
    const e = extKeyUsageExtension(["OCSPSigning"]);
    assert.equal(e.extnID, "2.5.29.37");
    assert.equal(e.critical, false);
    assert.equal(hex(value(e)), schemaHex(new pkijs.ExtKeyUsage({ keyPurposes: ["1.3.6.1.5.5.7.3.9"] })));
    assert.equal(
      hex(value(extKeyUsageExtension(["serverAuth", "1.3.6.1.5.5.7.3.2"]))),
      schemaHex(new pkijs.ExtKeyUsage({ keyPurposes: ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"] })),
    );
    assert.throws(() => extKeyUsageExtension(["notAPurpose"]), CaError);
  });

  it("id-pkix-ocsp-nocheck is a non-critical NULL", () => {
    const e = ocspNoCheckExtension();
    assert.equal(e.extnID, "1.3.6.1.5.5.7.48.1.5");
    assert.equal(e.critical, false);
    assert.equal(hex(extensionDer(e)), "300f06092b060105050730010504020500");
  });
});
