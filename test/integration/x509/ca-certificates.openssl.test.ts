import assert from "node:assert/strict";
import { buildCaCertificate } from "../../../ca/profiles/ca-certificate.js";
import { defaultCaProfiles, type CaProfile } from "../../../ca/profiles/ca-profile.js";
import { buildOcspResponderCertificate } from "../../../ca/profiles/ocsp-responder-certificate.js";
import { FixedClock } from "../../../ca/ports.js";
import type { CaKind } from "../../../ca/types.js";
import { keyIdentifier } from "../../../ca/x509/extensions.js";
import { MemorySigner } from "../../../hsm/memory-signer.js";
import { colonHex, extensionBody, extensionHeaders, openssl, opensslEscaped, opensslOk, scratchDir, writeCert } from "./openssl.js";

/** OpenSSL as the independent relying party for the JPKI CA and OCSP responder certificates. */
describe("x509 with openssl: JPKI CA and OCSP responder certificates", () => {
  const scratch = scratchDir();
  after(() => scratch.remove());
  const clock = new FixedClock(new Date("2026-11-22T15:53:17.250Z"));

  const cases: { label: string; kind: CaKind; profile: CaProfile; signer: () => MemorySigner; sigAlg: RegExp; jaOu: string }[] = [
    {
      label: "RSA-2048 signing CA",
      kind: "sign",
      profile: defaultCaProfiles.sign,
      signer: () => MemorySigner.generate({ type: "rsa", bits: 2048 }),
      sigAlg: /Signature Algorithm: sha256WithRSAEncryption/,
      jaOu: "署名用認証局",
    },
    {
      label: "P-384 user-authentication CA",
      kind: "auth",
      profile: { ...defaultCaProfiles.auth, keySpec: { type: "ec", curve: "P-384" }, signatureAlgorithm: "ecdsa-with-SHA384" },
      signer: () => MemorySigner.generate({ type: "ec", curve: "P-384" }),
      sigAlg: /Signature Algorithm: ecdsa-with-SHA384/,
      jaOu: "利用者証明用認証局",
    },
  ];

  for (const c of cases) {
    describe(c.label, () => {
      let signer: MemorySigner;
      let caPath: string;
      let text: string;
      before(async () => {
        signer = c.signer();
        const der = await buildCaCertificate({ kind: c.kind, generation: 1, profile: c.profile, signer, serial: 0x5a5a5a5a5a5a5a5a5an, clock });
        caPath = writeCert(scratch.dir, `${c.kind}-ca.pem`, der);
        text = opensslOk(["x509", "-in", caPath, "-noout", "-text", "-nameopt", "sep_comma_plus_space,utf8,sname"]);
      });

      it("openssl verify -x509_strict accepts it as its own trust anchor", () => {
        const r = openssl(["verify", "-x509_strict", "-CAfile", caPath, caPath]);
        assert.equal(r.status, 0, r.out);
        assert.equal(r.out.trim(), `${caPath}: OK`);
      });

      it("has the production DN, in order, as subject and issuer", () => {
        const dn = `C=JP, O=JPKI, OU=${c.profile.subject[2]!.value}, OU=Japan Agency for Local Authority Information Systems`;
        assert.match(text, new RegExp(`Issuer: ${dn}\\n`));
        assert.match(text, new RegExp(`Subject: ${dn}\\n`));
        assert.match(text, /Version: 3 \(0x2\)/);
        assert.match(text, c.sigAlg);
      });

      it("has exactly the CA extensions with the right criticality and values", () => {
        assert.deepEqual(extensionHeaders(text), [
          "X509v3 Basic Constraints: critical",
          "X509v3 Key Usage: critical",
          "X509v3 Subject Key Identifier:",
          "X509v3 Authority Key Identifier:",
          "X509v3 Issuer Alternative Name:",
        ]);
        assert.equal(extensionBody(text, "X509v3 Basic Constraints: critical"), "CA:TRUE");
        assert.equal(extensionBody(text, "X509v3 Key Usage: critical"), "Certificate Sign, CRL Sign");
        const ski = colonHex(keyIdentifier(signer.publicKey));
        assert.equal(extensionBody(text, "X509v3 Subject Key Identifier:"), ski);
        assert.equal(extensionBody(text, "X509v3 Authority Key Identifier:").replace(/^keyid:/, ""), ski);
        assert.equal(
          extensionBody(text, "X509v3 Issuer Alternative Name:"),
          `DirName:/C=JP/O=${opensslEscaped("公的個人認証サービス")}/OU=${opensslEscaped(c.jaOu)}`,
        );
      });

      it("notAfter is 14:59:59Z exactly ten years on; UTCTime before 2050", () => {
        assert.equal(opensslOk(["x509", "-in", caPath, "-noout", "-startdate", "-enddate"]), "notBefore=Nov 22 15:53:17 2026 GMT\nnotAfter=Nov 23 14:59:59 2036 GMT\n");
        const asn1 = opensslOk(["asn1parse", "-in", caPath]);
        assert.match(asn1, /UTCTIME\s+:261122155317Z/);
        assert.match(asn1, /UTCTIME\s+:361123145959Z/);
        assert.doesNotMatch(asn1, /GENERALIZEDTIME/);
        // String types as the wire has them: every subject/issuer attribute is a PrintableString.
        assert.equal((asn1.match(/PRINTABLESTRING\s+:JP\n/g) ?? []).length, 2);
        assert.doesNotMatch(asn1, /UTF8STRING\s+:JPKI/);
      });
    });
  }

  it("uses GeneralizedTime from 2050 and openssl still verifies it at a time inside the period", async () => {
    const signer = MemorySigner.generate({ type: "rsa", bits: 2048 });
    const der = await buildCaCertificate({ kind: "sign", generation: 5, profile: defaultCaProfiles.sign, signer, serial: 77n, notBefore: new Date("2045-03-01T00:00:00Z") });
    const path = writeCert(scratch.dir, "ca-2045.pem", der);
    const asn1 = opensslOk(["asn1parse", "-in", path]);
    assert.match(asn1, /UTCTIME\s+:450301000000Z/);
    assert.match(asn1, /GENERALIZEDTIME\s+:20550301145959Z/);
    assert.match(opensslOk(["x509", "-in", path, "-noout", "-enddate"]), /notAfter=Mar {2}1 14:59:59 2055 GMT/);
    const at2052 = String(Date.parse("2052-01-01T00:00:00Z") / 1000);
    const ok = openssl(["verify", "-x509_strict", "-attime", at2052, "-CAfile", path, path]);
    assert.equal(ok.status, 0, ok.out);
    const at2056 = String(Date.parse("2056-01-01T00:00:00Z") / 1000);
    const expired = openssl(["verify", "-x509_strict", "-attime", at2056, "-CAfile", path, path]);
    assert.notEqual(expired.status, 0, "expired after 2055: the date really reads 2055, not 1955");
    assert.match(expired.out, /expired/);
  });

  describe("OCSP responder certificate", () => {
    let caPath: string;
    let respPath: string;
    let text: string;
    before(async () => {
      const caSigner = MemorySigner.generate({ type: "rsa", bits: 2048 });
      const responder = MemorySigner.generate({ type: "ec", curve: "P-256" });
      const caDer = await buildCaCertificate({ kind: "sign", generation: 1, profile: defaultCaProfiles.sign, signer: caSigner, serial: 1000n, clock });
      const der = await buildOcspResponderCertificate({ caId: "sign-g1", caCertificate: caDer, caSigner, responderPublicKey: responder.publicKey, serial: 1001n, clock });
      caPath = writeCert(scratch.dir, "ocsp-ca.pem", caDer);
      respPath = writeCert(scratch.dir, "ocsp-responder.pem", der);
      text = opensslOk(["x509", "-in", respPath, "-noout", "-text", "-nameopt", "sep_comma_plus_space,utf8,sname"]);
    });

    it("verifies under the CA for the OCSP helper purpose", () => {
      const r = openssl(["verify", "-x509_strict", "-CAfile", caPath, "-purpose", "ocsphelper", respPath]);
      assert.equal(r.status, 0, r.out);
      assert.equal(r.out.trim(), `${respPath}: OK`);
    });

    it("does not verify under another CA", async () => {
      const other = MemorySigner.generate({ type: "rsa", bits: 2048 });
      const otherDer = await buildCaCertificate({ kind: "sign", generation: 1, profile: defaultCaProfiles.sign, signer: other, serial: 2000n, clock });
      const otherPath = writeCert(scratch.dir, "other-ca.pem", otherDer);
      const r = openssl(["verify", "-x509_strict", "-CAfile", otherPath, "-purpose", "ocsphelper", respPath]);
      assert.notEqual(r.status, 0, r.out);
    });

    it("shows OCSP Signing, OCSP No Check, keyUsage critical Digital Signature", () => {
      assert.match(text, /Subject: C=JP, O=JPKI, OU=JPKI for digital signature, CN=OCSP Responder sign-g1\n/);
      assert.deepEqual(extensionHeaders(text), [
        "X509v3 Key Usage: critical",
        "X509v3 Extended Key Usage:",
        "OCSP No Check:",
        "X509v3 Authority Key Identifier:",
        "X509v3 Subject Key Identifier:",
      ]);
      assert.equal(extensionBody(text, "X509v3 Key Usage: critical"), "Digital Signature");
      assert.equal(extensionBody(text, "X509v3 Extended Key Usage:"), "OCSP Signing");
      assert.match(opensslOk(["x509", "-in", respPath, "-noout", "-enddate"]), /notAfter=Feb 20 15:53:17 2027 GMT/);
    });
  });
});
