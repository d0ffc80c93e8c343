import assert from "node:assert/strict";
import { createPublicKey, X509Certificate } from "node:crypto";
import * as asn1js from "asn1js";
import forge from "node-forge";
import * as pkijs from "pkijs";
import { buildCaCertificate, caNotAfter } from "../../../../ca/profiles/ca-certificate.js";
import { defaultCaProfiles, type CaProfile } from "../../../../ca/profiles/ca-profile.js";
import { CaError } from "../../../../ca/errors.js";
import { FixedClock } from "../../../../ca/ports.js";
import { keyIdentifier } from "../../../../ca/x509/extensions.js";
import { readName } from "../../../../ca/x509/name.js";
import { pem } from "../../../../ca/x509/pem.js";
import { MemorySigner } from "../../../../hsm/memory-signer.js";

const hex = (b: Uint8Array | ArrayBuffer): string => Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b).toString("hex");
const p384Profile = (kind: "sign" | "auth"): CaProfile => ({
  ...defaultCaProfiles[kind],
  keySpec: { type: "ec", curve: "P-384" },
  signatureAlgorithm: "ecdsa-with-SHA384",
});

/** Universal tag number of each validity Time. */
function timeTags(der: Uint8Array): [number, number] {
  const cert = pkijs.Certificate.fromBER(der.slice().buffer);
  return [cert.notBefore.type, cert.notAfter.type];
}

/** Decodes a forge asn1 Name into [oid, tag, text] triples, asserting one ATV per RDN. */
function forgeName(name: forge.asn1.Asn1): [string, number, string][] {
  return (name.value as forge.asn1.Asn1[]).map((set) => {
    const atvs = set.value as forge.asn1.Asn1[];
    assert.equal(atvs.length, 1);
    const [oid, value] = atvs[0]!.value as [forge.asn1.Asn1, forge.asn1.Asn1];
    return [forge.asn1.derToOid(oid.value as string), value.type, forge.util.decodeUtf8(value.value as string)];
  });
}

describe("ca/ca-certificate", () => {
  let rsa: MemorySigner;
  let p384: MemorySigner;
  before(() => {
    rsa = MemorySigner.generate({ type: "rsa", bits: 2048 });
    p384 = MemorySigner.generate({ type: "ec", curve: "P-384" });
  });

  describe("RSA-2048 signing CA", () => {
    let der: Uint8Array;
    const serial = 0x8a1b2c3d4e5f60718293n;
    before(async () => {
      der = await buildCaCertificate({
        kind: "sign",
        generation: 1,
        profile: defaultCaProfiles.sign,
        signer: rsa,
        serial,
        clock: new FixedClock(new Date("2026-11-22T15:53:17.789Z")),
      });
    });

    it("is a self-signed v3 CA certificate (node/OpenSSL view)", () => {
      const x = new X509Certificate(der);
      assert.equal(x.ca, true);
      assert.equal(x.checkIssued(x), true);
      assert.equal(x.verify(createPublicKey({ key: Buffer.from(rsa.publicKey), format: "der", type: "spki" })), true);
      assert.equal(x.serialNumber.toLowerCase(), serial.toString(16));
      assert.equal(x.subject, x.issuer);
    });

    it("notBefore is truncated to the second; notAfter is 14:59:59Z of the JST day 10 years later", () => {
      const x = new X509Certificate(der);
      assert.equal(new Date(x.validFrom).toISOString(), "2026-11-22T15:53:17.000Z");
      // 15:53Z on the 22nd is 00:53 JST on the 23rd: the period ends 2036-11-23 23:59:59 JST.
      assert.equal(new Date(x.validTo).toISOString(), "2036-11-23T14:59:59.000Z");
      assert.deepEqual(timeTags(der), [0, 0], "UTCTime before 2050");
    });

    it("node-forge parses it independently: signature, DN order and string types", () => {
      const cert = forge.pki.certificateFromPem(pem(der, "CERTIFICATE"));
      assert.equal(cert.verify(cert), true);
      assert.equal(cert.version, 2);
      // The top bit is set, so DER needs a leading 0x00 to keep the INTEGER positive.
      assert.equal(cert.serialNumber, "00" + serial.toString(16));
      const subject = cert.subject.attributes.map((a) => [a.shortName, a.value, a.valueTagClass]);
      assert.deepEqual(subject, [
        ["C", "JP", forge.asn1.Type.PRINTABLESTRING],
        ["O", "JPKI", forge.asn1.Type.PRINTABLESTRING],
        ["OU", "JPKI for digital signature", forge.asn1.Type.PRINTABLESTRING],
        ["OU", "Japan Agency for Local Authority Information Systems", forge.asn1.Type.PRINTABLESTRING],
      ]);
      assert.equal(cert.issuer.hash, cert.subject.hash);
    });

    it("node-forge sees exactly the docs/domain.md §2 extensions with the right criticality", () => {
      const cert = forge.pki.certificateFromPem(pem(der, "CERTIFICATE"));
      const exts = cert.extensions as Array<Record<string, unknown>>;
      assert.deepEqual(
        exts.map((e) => [e.name, e.critical]),
        [
          ["basicConstraints", true],
          ["keyUsage", true],
          ["subjectKeyIdentifier", false],
          ["authorityKeyIdentifier", false],
          ["issuerAltName", false],
        ],
      );
      const bc = cert.getExtension("basicConstraints") as { cA: boolean; pathLenConstraint?: number };
      assert.equal(bc.cA, true);
      assert.equal(bc.pathLenConstraint, undefined);
      const ku = cert.getExtension("keyUsage") as Record<string, boolean>;
      assert.deepEqual(
        Object.fromEntries(["digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"].map((k) => [k, ku[k]])),
        { digitalSignature: false, nonRepudiation: false, keyEncipherment: false, dataEncipherment: false, keyAgreement: false, keyCertSign: true, cRLSign: true, encipherOnly: false, decipherOnly: false },
      );
      const ski = cert.getExtension("subjectKeyIdentifier") as { subjectKeyIdentifier: string };
      assert.equal(ski.subjectKeyIdentifier, hex(keyIdentifier(rsa.publicKey)));
      // AKI = SKI: SEQUENCE { [0] keyIdentifier }
      const aki = forge.asn1.fromDer((cert.getExtension("authorityKeyIdentifier") as { value: string }).value);
      const akiParts = aki.value as forge.asn1.Asn1[];
      assert.equal(akiParts.length, 1);
      assert.equal(akiParts[0]!.tagClass, forge.asn1.Class.CONTEXT_SPECIFIC);
      assert.equal(akiParts[0]!.type, 0);
      assert.equal(forge.util.bytesToHex(akiParts[0]!.value as string), ski.subjectKeyIdentifier);
      // issuerAltName: one directoryName with the Japanese UTF8 text.
      const ian = cert.getExtension("issuerAltName") as { altNames: Array<{ type: number; value: forge.asn1.Asn1[] }> };
      assert.equal(ian.altNames.length, 1);
      assert.equal(ian.altNames[0]!.type, 4);
      assert.deepEqual(forgeName(ian.altNames[0]!.value[0]!), [
        ["2.5.4.6", forge.asn1.Type.PRINTABLESTRING, "JP"],
        ["2.5.4.10", forge.asn1.Type.UTF8, "公的個人認証サービス"],
        ["2.5.4.11", forge.asn1.Type.UTF8, "署名用認証局"],
      ]);
    });

    it("asn1js sees the same subject string types and an identical issuer", () => {
      const cert = pkijs.Certificate.fromBER(der.slice().buffer);
      assert.deepEqual(
        readName(cert.subject).map((a) => `${a.type}:${a.stringType}`),
        ["C:PrintableString", "O:PrintableString", "OU:PrintableString", "OU:PrintableString"],
      );
      assert.equal(hex(cert.issuer.toSchema().toBER(false)), hex(cert.subject.toSchema().toBER(false)));
      const ian = cert.extensions!.find((e) => e.extnID === "2.5.29.18")!;
      const gn = asn1js.fromBER(ian.extnValue.valueBlock.valueHexView.slice().buffer).result as asn1js.Sequence;
      const dirName = (gn.valueBlock.value[0] as asn1js.Constructed).valueBlock.value[0]!;
      assert.deepEqual(
        readName(new Uint8Array(dirName.toBER(false))).map((a) => [a.type, a.stringType, a.value]),
        [
          ["C", "PrintableString", "JP"],
          ["O", "UTF8String", "公的個人認証サービス"],
          ["OU", "UTF8String", "署名用認証局"],
        ],
      );
    });
  });

  it("notAfter stays on the same JST day when notBefore is during the JST day", () => {
    assert.equal(caNotAfter(new Date("2026-04-01T03:00:00Z"), 10).toISOString(), "2036-04-01T14:59:59.000Z");
    assert.equal(caNotAfter(new Date("2026-04-01T14:59:59Z"), 10).toISOString(), "2036-04-01T14:59:59.000Z");
    assert.equal(caNotAfter(new Date("2026-04-01T15:00:00Z"), 10).toISOString(), "2036-04-02T14:59:59.000Z");
  });

  it("builds a P-384 / ecdsa-with-SHA384 user-authentication CA", async () => {
    const der = await buildCaCertificate({
      kind: "auth",
      generation: 2,
      profile: p384Profile("auth"),
      signer: p384,
      serial: 0x42n << 64n,
      notBefore: new Date("2030-01-01T00:00:00Z"),
    });
    const x = new X509Certificate(der);
    assert.equal(x.verify(createPublicKey({ key: Buffer.from(p384.publicKey), format: "der", type: "spki" })), true);
    assert.match(x.subject, /OU=JPKI for user authentication/);
    const cert = pkijs.Certificate.fromBER(der.slice().buffer);
    assert.equal(cert.signatureAlgorithm.algorithmId, "1.2.840.10045.4.3.3");
    assert.equal(cert.signatureAlgorithm.algorithmParams, undefined, "RFC 5758 §3.2: parameters absent");
    assert.equal(new Date(x.validTo).toISOString(), "2040-01-01T14:59:59.000Z");
    assert.equal(x.infoAccess, undefined, "no AIA in a CA certificate");
  });

  it("uses GeneralizedTime from 2050 (notAfter in 2055, then both)", async () => {
    const base = { kind: "sign", generation: 3, profile: defaultCaProfiles.sign, signer: rsa, serial: 99n } as const;
    const der = await buildCaCertificate({ ...base, notBefore: new Date("2045-03-01T00:00:00Z") });
    assert.deepEqual(timeTags(der), [0, 1]);
    assert.equal(new Date(new X509Certificate(der).validTo).toISOString(), "2055-03-01T14:59:59.000Z");
    const later = await buildCaCertificate({ ...base, notBefore: new Date("2050-06-01T00:00:00Z") });
    assert.deepEqual(timeTags(later), [1, 1]);
    assert.equal(new Date(new X509Certificate(later).validFrom).toISOString(), "2050-06-01T00:00:00.000Z");
  });

  it("refuses inputs that do not fit the profile", async () => {
    const ok = { kind: "sign", generation: 1, profile: defaultCaProfiles.sign, signer: rsa, serial: 1n } as const;
    const refused = async (input: Parameters<typeof buildCaCertificate>[0]): Promise<void> => {
      await assert.rejects(buildCaCertificate(input), CaError);
    };
    await refused({ ...ok, kind: "auth" });
    await refused({ ...ok, generation: 0 });
    await refused({ ...ok, signer: p384 }); // algorithm differs
    await refused({ ...ok, profile: p384Profile("sign"), signer: MemorySigner.generate({ type: "ec", curve: "P-256" }, "ecdsa-with-SHA384") }); // key size differs
    await refused({ ...ok, serial: 0n });
    await refused({ ...ok, serial: -5n });
  });
});
