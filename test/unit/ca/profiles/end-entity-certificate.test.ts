import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPublicKey, X509Certificate } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import forge from "node-forge";
import { createAliasFormatter } from "../../../../ca/residents/alias-format.js";
import { personalDataOids, signingPersonalData, type SigningPersonalData } from "../../../../ca/profiles/end-entity-certificate.js";
import { EndEntityIssuer } from "../../../../ca/issuance/end-entity-issuer.js";
import type { EndEntityVariableFields } from "../../../../ca/profiles/end-entity-template.js";
import { localityOf } from "../../../../ca/residents/municipality.js";
import { parseResidentApplication } from "../../../../ca/residents/resident-fields.js";
import type { KeySpec } from "../../../../ca/types.js";
import { keyIdentifier } from "../../../../ca/x509/extensions.js";
import { parseIssuerCertificate } from "../../../../ca/x509/issuer-certificate.js";
import { pem } from "../../../../ca/x509/pem.js";
import { MemorySigner } from "../../../../hsm/memory-signer.js";
import { makeTestCa, publicBaseUrl, samplePersonal, templateContext, type TestCa } from "../../../support/end-entity-fixtures.js";

const dir = join(process.cwd(), "var", "test", "end-entity-certificate");
const colonHex = (b: Uint8Array): string => Buffer.from(b).toString("hex").toUpperCase().replace(/(..)(?!$)/g, "$1:");

/** Issues one certificate through the facade with the CA's MemorySigner. */
async function issue(issuer: EndEntityIssuer, ca: TestCa, v: Omit<EndEntityVariableFields, "partition">): Promise<Uint8Array> {
  const tbs = issuer.prepare({ ...v, partition: issuer.partitionOf(v.serialHex) });
  return issuer.finish(tbs, await ca.signer.sign(tbs));
}

/** `openssl verify -x509_strict`; returns stdout (throws on a non-zero exit). */
function opensslVerify(name: string, ca: TestCa, der: Uint8Array, extra: string[] = []): string {
  writeFileSync(join(dir, `${name}-ca.pem`), pem(ca.certificate, "CERTIFICATE"));
  writeFileSync(join(dir, `${name}.pem`), pem(der, "CERTIFICATE"));
  return execFileSync("openssl", ["verify", "-x509_strict", ...extra, "-CAfile", join(dir, `${name}-ca.pem`), join(dir, `${name}.pem`)], {
    stdio: ["ignore", "pipe", "pipe"],
  }).toString();
}

function opensslText(der: Uint8Array): string {
  return execFileSync("openssl", ["x509", "-inform", "DER", "-noout", "-text", "-nameopt", "utf8,sep_comma_plus_space"], {
    input: Buffer.from(der),
    stdio: ["pipe", "pipe", "pipe"],
  }).toString("utf8");
}

/** The header line of an extension in `openssl x509 -text` and the (trimmed) lines under it. */
function extensionBlock(text: string, header: string): { header: string; body: string[] } | undefined {
  const lines = text.split("\n");
  const i = lines.findIndex((l) => l.trim().startsWith(`${header}:`));
  if (i < 0) return undefined;
  const indent = lines[i]!.search(/\S/);
  const body: string[] = [];
  for (const l of lines.slice(i + 1)) {
    if (l.search(/\S/) <= indent) break;
    body.push(l.trim());
  }
  return { header: lines[i]!.trim(), body };
}

/** openssl prints non-ASCII bytes of a DirName as \xNN: decode them back to UTF-8 text. */
const decodeOpensslEscapes = (s: string): string =>
  Buffer.from(s.replace(/\\x([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), "latin1").toString("utf8");

const forgeCert = (der: Uint8Array): forge.pki.Certificate => forge.pki.certificateFromPem(pem(der, "CERTIFICATE"));
/** The extnValue of `oid` decoded by forge's own ASN.1 parser. */
function forgeExtension(cert: forge.pki.Certificate, oid: string): { critical: boolean; value: forge.asn1.Asn1 } {
  const ext = (cert.extensions as Array<{ id: string; critical?: boolean; value: string }>).find((e) => e.id === oid);
  assert.ok(ext, `extension ${oid}`);
  return { critical: ext.critical === true, value: forge.asn1.fromDer(ext.value) };
}
const children = (a: forge.asn1.Asn1): forge.asn1.Asn1[] => a.value as forge.asn1.Asn1[];
const bytesOf = (a: forge.asn1.Asn1): string => a.value as string;

describe("ca/end-entity-certificate: signed certificates read by openssl and node-forge", function () {
  this.timeout(60_000);
  let signCa: TestCa;
  let authCa: TestCa;
  let signIssuer: EndEntityIssuer;
  let authIssuer: EndEntityIssuer;
  const subjectKeys: Partial<Record<"rsa" | "p384", MemorySigner>> = {};
  const locality = localityOf("131041", { "131041": "Shinjuku-ku" });
  const subjectId = "0A1B2C3D4E5F60718293A4B5";
  const base = { notBefore: new Date("2026-11-22T01:02:03.456Z"), notAfter: new Date("2031-02-17T14:59:59Z"), subjectId };

  before(async () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    signCa = await makeTestCa("sign");
    authCa = await makeTestCa("auth");
    signIssuer = EndEntityIssuer.create(templateContext(signCa));
    authIssuer = EndEntityIssuer.create(templateContext(authCa, { partitionCount: 16 }));
    subjectKeys.rsa = MemorySigner.generate({ type: "rsa", bits: 2048 });
    subjectKeys.p384 = MemorySigner.generate({ type: "ec", curve: "P-384" });
  });

  describe("signing certificate, RSA-2048 subject key", () => {
    const serialHex = "0153a1c2d3e4f5061728394a5b6c7d8e";
    let der: Uint8Array;
    before(async () => {
      der = await issue(signIssuer, signCa, { ...base, serialHex, subjectPublicKey: subjectKeys.rsa!.publicKey, locality, personal: samplePersonal });
    });

    it("openssl verify -x509_strict accepts it (critical certificatePolicies included)", () => {
      assert.match(opensslVerify("sign-rsa", signCa, der), /: OK\n$/);
      // RFC 5280 §6.1 policy processing on: the critical, unknown policy is still accepted.
      assert.match(opensslVerify("sign-rsa", signCa, der, ["-policy_check"]), /: OK\n$/);
    });

    it("node:crypto agrees: issued by the CA, signature verifies, facade verify() is true", () => {
      const x = new X509Certificate(der);
      assert.equal(x.checkIssued(new X509Certificate(signCa.certificate)), true);
      assert.equal(x.verify(createPublicKey({ key: Buffer.from(signCa.signer.publicKey), format: "der", type: "spki" })), true);
      assert.equal(signIssuer.verify(der), true);
      assert.equal(x.serialNumber.toLowerCase(), serialHex);
    });

    it("openssl x509 -text shows the docs/domain.md §2 profile", () => {
      const text = opensslText(der);
      assert.match(text, /Subject: C=JP, L=Tokyo, L=Shinjuku-ku, CN=0A1B2C3D4E5F60718293A4B5\n/);
      assert.match(text, /Not Before: Nov 22 01:02:03 2026 GMT/);
      assert.match(text, /Not After : Feb 17 14:59:59 2031 GMT/);

      assert.deepEqual(extensionBlock(text, "X509v3 Key Usage"), { header: "X509v3 Key Usage: critical", body: ["Digital Signature, Non Repudiation"] });
      assert.deepEqual(extensionBlock(text, "X509v3 Certificate Policies"), {
        header: "X509v3 Certificate Policies: critical",
        body: ["Policy: 1.2.392.200149.8.5.1.1.20", "CPS: https://www.jpki.go.jp/cps"],
      });
      const p = samplePersonal;
      const san = [
        [personalDataOids.name, p.name],
        [personalDataOids.dateOfBirth, p.dateOfBirth],
        [personalDataOids.gender, p.gender],
        [personalDataOids.address, p.address],
        [personalDataOids.nameSubstituteFlags, p.nameSubstituteFlags],
        [personalDataOids.addressSubstituteFlags, p.addressSubstituteFlags],
      ].map(([oid, value]) => `othername: ${oid}::${value}`);
      assert.deepEqual(extensionBlock(text, "X509v3 Subject Alternative Name"), { header: "X509v3 Subject Alternative Name:", body: [san.join(", ")] });
      const ian = extensionBlock(text, "X509v3 Issuer Alternative Name");
      assert.equal(ian?.header, "X509v3 Issuer Alternative Name:");
      assert.deepEqual(ian?.body.map(decodeOpensslEscapes), ["DirName:/C=JP/O=公的個人認証サービス/OU=署名用認証局"]);
      const partition = signIssuer.partitionOf(serialHex);
      assert.deepEqual(extensionBlock(text, "X509v3 CRL Distribution Points")?.body, ["Full Name:", `URI:${publicBaseUrl}/crl/sign-g1/${partition}.crl`]);
      assert.deepEqual(extensionBlock(text, "Authority Information Access"), {
        header: "Authority Information Access:",
        body: [`OCSP - URI:${publicBaseUrl}/ocsp`],
      });
      const caKeyId = parseIssuerCertificate(signCa.certificate).keyIdentifier;
      assert.deepEqual(extensionBlock(text, "X509v3 Authority Key Identifier")?.body, [colonHex(caKeyId)]);
      assert.deepEqual(extensionBlock(text, "X509v3 Subject Key Identifier")?.body, [colonHex(keyIdentifier(subjectKeys.rsa!.publicKey))]);
      assert.doesNotMatch(text, /Extended Key Usage|Basic Constraints/);
      assert.equal((text.match(/X509v3 (?!extensions:)|Authority Information Access:/g) ?? []).length, 8, "exactly 8 extensions");
    });

    it("node-forge parses it independently: signature, subject, extensions in the fixed order", () => {
      const cert = forgeCert(der);
      assert.equal(forgeCert(signCa.certificate).verify(cert), true);
      assert.equal(cert.version, 2);
      assert.equal(cert.serialNumber, serialHex);
      assert.deepEqual(
        cert.subject.attributes.map((a) => [a.shortName ?? a.type, a.value, a.valueTagClass]),
        [
          ["C", "JP", forge.asn1.Type.PRINTABLESTRING],
          ["L", "Tokyo", forge.asn1.Type.PRINTABLESTRING],
          ["L", "Shinjuku-ku", forge.asn1.Type.PRINTABLESTRING],
          ["CN", subjectId, forge.asn1.Type.PRINTABLESTRING],
        ],
      );
      assert.equal(cert.issuer.hash, forgeCert(signCa.certificate).subject.hash);
      const exts = cert.extensions as Array<{ id: string; critical?: boolean }>;
      assert.deepEqual(
        exts.map((e) => [e.id, e.critical === true]),
        [
          ["2.5.29.15", true],
          ["2.5.29.32", true],
          ["2.5.29.17", false],
          ["2.5.29.18", false],
          ["2.5.29.31", false],
          ["1.3.6.1.5.5.7.1.1", false],
          ["2.5.29.35", false],
          ["2.5.29.14", false],
        ],
      );
      const ku = cert.getExtension("keyUsage") as Record<string, boolean>;
      const bits = ["digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"];
      assert.deepEqual(bits.filter((b) => ku[b]), ["digitalSignature", "nonRepudiation"]);
    });

    it("node-forge: SAN holds the six otherNames in JPKI order as [0] EXPLICIT UTF8String with the exact values", () => {
      const { critical, value } = forgeExtension(forgeCert(der), "2.5.29.17");
      assert.equal(critical, false);
      const decoded = children(value).map((gn) => {
        assert.equal(gn.tagClass, forge.asn1.Class.CONTEXT_SPECIFIC);
        assert.equal(gn.type, 0);
        const [oid, explicit] = children(gn) as [forge.asn1.Asn1, forge.asn1.Asn1];
        assert.equal(explicit.tagClass, forge.asn1.Class.CONTEXT_SPECIFIC);
        assert.equal(explicit.type, 0);
        const [str] = children(explicit) as [forge.asn1.Asn1];
        assert.equal(str.type, forge.asn1.Type.UTF8);
        return [forge.asn1.derToOid(bytesOf(oid)), forge.util.decodeUtf8(bytesOf(str))];
      });
      const order: (keyof SigningPersonalData)[] = ["name", "dateOfBirth", "gender", "address", "nameSubstituteFlags", "addressSubstituteFlags"];
      assert.deepEqual(decoded, order.map((k) => [personalDataOids[k], samplePersonal[k]]));
      assert.deepEqual(decoded.map(([oid]) => oid!.split(".").pop()), ["1", "4", "3", "5", "2", "6"]);
    });

    it("node-forge: policies, issuerAltName DirName, CRL DP, OCSP, AKI, SKI", () => {
      const cert = forgeCert(der);
      const cp = forgeExtension(cert, "2.5.29.32");
      const [info] = children(cp.value) as [forge.asn1.Asn1];
      const [policyOid, qualifiers] = children(info) as [forge.asn1.Asn1, forge.asn1.Asn1];
      assert.equal(forge.asn1.derToOid(bytesOf(policyOid)), "1.2.392.200149.8.5.1.1.20");
      const [q] = children(qualifiers) as [forge.asn1.Asn1];
      const [qid, uri] = children(q) as [forge.asn1.Asn1, forge.asn1.Asn1];
      assert.equal(forge.asn1.derToOid(bytesOf(qid)), "1.3.6.1.5.5.7.2.1");
      assert.equal(uri.type, forge.asn1.Type.IA5STRING);
      assert.equal(bytesOf(uri), "https://www.jpki.go.jp/cps");

      const [dirName] = children(forgeExtension(cert, "2.5.29.18").value) as [forge.asn1.Asn1];
      assert.equal(dirName.type, 4);
      const rdns = children(children(dirName)[0]!).map((set) => {
        const [oid, v] = children(children(set)[0]!) as [forge.asn1.Asn1, forge.asn1.Asn1];
        return [forge.asn1.derToOid(bytesOf(oid)), v.type, forge.util.decodeUtf8(bytesOf(v))];
      });
      assert.deepEqual(rdns, [
        ["2.5.4.6", forge.asn1.Type.PRINTABLESTRING, "JP"],
        ["2.5.4.10", forge.asn1.Type.UTF8, "公的個人認証サービス"],
        ["2.5.4.11", forge.asn1.Type.UTF8, "署名用認証局"],
      ]);

      const dp = children(children(children(children(forgeExtension(cert, "2.5.29.31").value)[0]!)[0]!)[0]!)[0]!;
      assert.equal(bytesOf(dp), `${publicBaseUrl}/crl/sign-g1/${signIssuer.partitionOf(serialHex)}.crl`);
      const [ad] = children(forgeExtension(cert, "1.3.6.1.5.5.7.1.1").value) as [forge.asn1.Asn1];
      const [method, location] = children(ad) as [forge.asn1.Asn1, forge.asn1.Asn1];
      assert.equal(forge.asn1.derToOid(bytesOf(method)), "1.3.6.1.5.5.7.48.1");
      assert.equal(bytesOf(location), `${publicBaseUrl}/ocsp`);

      const [akiId] = children(forgeExtension(cert, "2.5.29.35").value) as [forge.asn1.Asn1];
      assert.equal(forge.util.bytesToHex(bytesOf(akiId)), Buffer.from(parseIssuerCertificate(signCa.certificate).keyIdentifier).toString("hex"));
      assert.equal(forge.util.bytesToHex(bytesOf(forgeExtension(cert, "2.5.29.14").value)), Buffer.from(keyIdentifier(subjectKeys.rsa!.publicKey)).toString("hex"));
    });
  });

  it("signing certificate with a P-384 subject key and notAfter after 2050: openssl verifies it", async () => {
    const der = await issue(signIssuer, signCa, {
      ...base,
      notAfter: new Date("2051-02-17T14:59:59Z"),
      serialHex: "00c3d4e5f60718293a4b5c6d7e8f9012",
      subjectPublicKey: subjectKeys.p384!.publicKey,
      locality,
      personal: samplePersonal,
    });
    assert.match(opensslVerify("sign-p384", signCa, der), /: OK\n$/);
    const text = opensslText(der);
    assert.match(text, /NIST CURVE: P-384/);
    assert.match(text, /Not After : Feb 17 14:59:59 2051 GMT/);
  });

  it("a P-384 CA (ecdsa-with-SHA384) issues certificates openssl verifies", async () => {
    const ca = await makeTestCa("sign", { type: "ec", curve: "P-384" } satisfies KeySpec);
    const issuer = EndEntityIssuer.create(templateContext(ca));
    const der = await issue(issuer, ca, { ...base, serialHex: "01aa", subjectPublicKey: subjectKeys.rsa!.publicKey, locality, personal: samplePersonal });
    assert.match(opensslVerify("p384-ca", ca, der), /: OK\n$/);
    assert.match(opensslText(der), /Signature Algorithm: ecdsa-with-SHA384/);
  });

  describe("user-authentication certificate", () => {
    let der: Uint8Array;
    before(async () => {
      der = await issue(authIssuer, authCa, { ...base, serialHex: "017e", subjectPublicKey: subjectKeys.rsa!.publicKey });
    });

    it("verifies with openssl and node-forge; keyUsage digitalSignature only; user-auth policy; no SAN, no EKU", () => {
      assert.match(opensslVerify("auth-rsa", authCa, der), /: OK\n$/);
      assert.equal(forgeCert(authCa.certificate).verify(forgeCert(der)), true);
      const text = opensslText(der);
      assert.match(text, /Subject: C=JP, CN=0A1B2C3D4E5F60718293A4B5\n/);
      assert.deepEqual(extensionBlock(text, "X509v3 Key Usage"), { header: "X509v3 Key Usage: critical", body: ["Digital Signature"] });
      assert.deepEqual(extensionBlock(text, "X509v3 Certificate Policies"), {
        header: "X509v3 Certificate Policies: critical",
        body: ["Policy: 1.2.392.200149.8.5.1.3.30", "CPS: https://www.jpki.go.jp/cps"],
      });
      assert.deepEqual(extensionBlock(text, "X509v3 Issuer Alternative Name")?.body.map(decodeOpensslEscapes), ["DirName:/C=JP/O=公的個人認証サービス/OU=利用者証明用認証局"]);
      assert.deepEqual(extensionBlock(text, "X509v3 CRL Distribution Points")?.body, ["Full Name:", `URI:${publicBaseUrl}/crl/auth-g1/${authIssuer.partitionOf("017e")}.crl`]);
      assert.equal(extensionBlock(text, "X509v3 Subject Alternative Name"), undefined);
      assert.doesNotMatch(text, /Extended Key Usage|othername/);
      const ku = forgeCert(der).getExtension("keyUsage") as Record<string, boolean>;
      assert.equal(ku.digitalSignature, true);
      assert.equal(ku.nonRepudiation, false);
    });

    it("carries no personal data anywhere in its DER", () => {
      const bytes = Buffer.from(der);
      const p = samplePersonal;
      for (const s of [p.name, p.address, "山田", "東京都", p.dateOfBirth, p.nameSubstituteFlags, p.addressSubstituteFlags, "Tokyo", "Shinjuku-ku"]) {
        assert.equal(bytes.includes(Buffer.from(s, "utf8")), false, "personal or locality bytes found");
      }
      // No OID under the personal-data arc 1.2.392.200149.8.5.5 (DER content 2a 83 08 89 c6 55 08 05 05).
      assert.equal(bytes.includes(Buffer.from("2a830889c655080505", "hex")), false);
    });
  });

  it("AIA can be switched off by the profile", async () => {
    const issuer = EndEntityIssuer.create(templateContext(authCa, { overrides: { ocspUrl: null } }));
    const der = await issue(issuer, authCa, { ...base, serialHex: "0101", subjectPublicKey: subjectKeys.p384!.publicKey });
    assert.match(opensslVerify("auth-no-aia", authCa, der), /: OK\n$/);
    assert.equal(extensionBlock(opensslText(der), "Authority Information Access"), undefined);
  });

  it("signingPersonalData renders the alias into the name and the date of birth as EYYYYMMDD", () => {
    const app = parseResidentApplication(
      {
        municipalityCode: "131041",
        applicationDate: "2026-11-22",
        residentCode: "12345678901",
        resident: {
          name: "山田　太郎",
          nameSubstituteFlags: "00010",
          alias: "ヤマダ　タロウ",
          dateOfBirth: "1980-02-17",
          gender: 1,
          address: "東京都新宿区",
          addressSubstituteFlags: "000001",
          cardExpiry: "2035-02-17",
          residencePeriodEnd: null,
          underGuardianship: false,
        },
      },
      new Date("2026-11-22T03:00:00Z"),
    );
    assert.deepEqual(signingPersonalData(app.resident, createAliasFormatter()), {
      name: "山田　太郎（ヤマダ　タロウ）",
      nameSubstituteFlags: "00010000000000",
      gender: "1",
      dateOfBirth: "319800217",
      address: "東京都新宿区",
      addressSubstituteFlags: "000001",
    });
  });
});
