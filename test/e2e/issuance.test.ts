import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import forge from "node-forge";
import { pem } from "../../ca/x509/pem.js";
import { request } from "../support/https-client.js";
import type { TestService } from "../support/service-harness.js";
import { extensionBody, extensionHeaders, openssl, opensslEscaped, opensslOk, scratchDir } from "../integration/x509/openssl.js";
import {
  assertNoPersonalDataInLogs,
  ADDRESS,
  application,
  assertProblem,
  derOfPem,
  DOB,
  issuanceClient,
  jstToday,
  MUNICIPALITY,
  NAME,
  resident,
  RESIDENT_CODE,
  startIssuanceService,
  type CardKey,
  type IssuanceAnswer,
  type IssuedCertificate,
} from "./support/issuance-e2e.js";

/**
 * docs/api.md §4 issuance end to end: real PostgreSQL, SoftHSM and the HTTPS listener with client
 * certificates, card-like CSRs (node:crypto keys, node-forge PKCS#10), and openssl as the relying
 * party that checks what was issued. One service instance for the whole file; the tests run in order
 * and share the certificates issued early on. Idempotency, recovery and concurrency are in
 * issuance-recovery.test.ts, bad input and the log check in issuance-bad-input.test.ts.
 */

describe("e2e: issuance over HTTPS (PostgreSQL + SoftHSM + openssl)", function () {
  this.timeout(60_000);
  let t: TestService;
  let token: string;
  let keys: CardKey[];
  let issued: IssuanceAnswer;
  let sign: IssuedCertificate;
  let auth: IssuedCertificate;
  let scratch: ReturnType<typeof scratchDir>;
  const { issue, getCertificate } = issuanceClient(() => ({ t, token }));

  const writePem = (name: string, text: string): string => {
    const path = join(scratch.dir, name);
    writeFileSync(path, text);
    return path;
  };
  const caPemOf = async (caId: string): Promise<string> => {
    const res = await request(`${t.httpUrl}/ca/${caId}.crt`);
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "application/pkix-cert");
    return pem(res.body, "CERTIFICATE");
  };
  const x509Text = (certPem: string, name: string): string => opensslOk(["x509", "-in", writePem(name, certPem), "-noout", "-text", "-nameopt", "RFC2253"]);

  before(async function () {
    scratch = scratchDir();
    // keys[0], [1] and [4] are used below (the numbers the tests had in the one file they came from).
    ({ t, keys } = await startIssuanceService(this, "e2e-issuance", 5));
  });
  after(async () => {
    await t?.close();
    scratch?.remove();
  });

  it("logs in as the demo terminal operator", async () => {
    token = await t.login("terminal-operator");
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  });

  it("issues a user-auth and a signing certificate in one application (201)", async () => {
    const res = await issue(application([{ kind: "auth", csr: keys[0]!.csr }, { kind: "sign", csr: keys[1]!.csr }]));
    assert.equal(res.status, 201, res.body.toString("utf8"));
    issued = res.json<IssuanceAnswer>();
    assert.match(issued.issuanceId, /^[0-9a-f]{32}$/);
    assert.match(String(res.headers.location), new RegExp(`/v1/issuances/${issued.issuanceId}$`));
    assert.equal(res.headers["idempotent-replayed"], undefined);
    assert.deepEqual(issued.certificates.map((c) => c.kind), ["auth", "sign"]);
    auth = issued.certificates[0]!;
    sign = issued.certificates[1]!;

    assert.equal(sign.caId, "sign-g1");
    assert.equal(auth.caId, "auth-g1");
    assert.equal(sign.policyOid, "1.2.392.200149.8.5.1.1.20");
    assert.equal(auth.policyOid, "1.2.392.200149.8.5.1.3.30");
    assert.deepEqual(sign.keyUsage, ["digitalSignature", "nonRepudiation"]);
    assert.deepEqual(auth.keyUsage, ["digitalSignature"]);
    assert.equal(sign.publicKey, keys[1]!.spkiBase64);
    assert.equal(auth.publicKey, keys[0]!.spkiBase64);
    for (const c of [sign, auth]) {
      assert.match(c.serialNumber, /^[0-9a-f]+$/);
      assert.match(c.certificate, /^-----BEGIN CERTIFICATE-----\n/);
      assert.equal(c.caCertificate, await caPemOf(c.caId));
      assert.match(c.issuer, /JPKI/);
    }
    assert.notEqual(sign.serialNumber, auth.serialNumber);
    // Serial prefix byte (docs/design.md invariant 2): sign-g1 → 0x01, auth-g1 → 0x41.
    assert.match(sign.serialNumber, /^01/);
    assert.match(auth.serialNumber, /^41/);
    assert.deepEqual(sign.subject, {
      name: NAME,
      nameSubstituteFlags: "00000",
      dateOfBirth: "319800217",
      gender: "1",
      address: ADDRESS,
      addressSubstituteFlags: "0".repeat(17),
    });
    assert.equal(auth.subject, undefined, "no personal data in the user-auth answer");
  });

  it("both certificates pass `openssl verify -x509_strict` against their CA certificate from GET /ca/{caId}.crt", async () => {
    for (const c of [sign, auth]) {
      const caFile = writePem(`${c.caId}.pem`, await caPemOf(c.caId));
      const certFile = writePem(`${c.kind}.pem`, c.certificate);
      const r = openssl(["verify", "-x509_strict", "-CAfile", caFile, certFile]);
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, /: OK\s*$/);
    }
    // And not against the other kind's CA (the check can fail).
    const wrong = openssl(["verify", "-x509_strict", "-CAfile", writePem("auth-ca.pem", await caPemOf("auth-g1")), writePem("sign2.pem", sign.certificate)]);
    assert.notEqual(wrong.status, 0);
  });

  it("signing certificate, seen by openssl: every extension of the docs/domain.md §2 profile, no EKU", async () => {
    const text = x509Text(sign.certificate, "sign-text.pem");
    assert.deepEqual(extensionHeaders(text), [
      "X509v3 Key Usage: critical",
      "X509v3 Certificate Policies: critical",
      "X509v3 Subject Alternative Name:",
      "X509v3 Issuer Alternative Name:",
      "X509v3 CRL Distribution Points:",
      "Authority Information Access:",
      "X509v3 Authority Key Identifier:",
      "X509v3 Subject Key Identifier:",
    ]);
    assert.equal(extensionBody(text, "X509v3 Key Usage: critical"), "Digital Signature, Non Repudiation");
    const policies = extensionBody(text, "X509v3 Certificate Policies: critical");
    assert.match(policies, /^Policy: 1\.2\.392\.200149\.8\.5\.1\.1\.20$/m);
    assert.match(policies, /^CPS: https:\/\/www\.jpki\.go\.jp\/cps$/m);
    assert.doesNotMatch(text, /Extended Key Usage/);
    assert.doesNotMatch(text, /Basic Constraints/);
    // openssl does not decode the JPKI otherNames; it must see six of them.
    const san = extensionBody(text, "X509v3 Subject Alternative Name:");
    assert.equal(san.split(/,\s*/).filter((s) => s.startsWith("othername:")).length, 6, san);
    assert.equal(extensionBody(text, "X509v3 Issuer Alternative Name:"), `DirName:/C=JP/O=${opensslEscaped("公的個人認証サービス")}/OU=${opensslEscaped("署名用認証局")}`);
    assert.match(extensionBody(text, "Authority Information Access:"), /^OCSP - URI:http:\/\/127\.0\.0\.1:8080\/ocsp$/);

    const record = (await getCertificate(sign.serialNumber)).json<{ partition: number }>();
    assert.ok(Number.isInteger(record.partition) && record.partition >= 0 && record.partition < 64);
    assert.match(extensionBody(text, "X509v3 CRL Distribution Points:"), new RegExp(`URI:http://127\\.0\\.0\\.1:8080/crl/sign-g1/${record.partition}\\.crl$`, "m"));

    // AKI = the CA's SKI.
    const caText = x509Text(await caPemOf("sign-g1"), "sign-ca-text.pem");
    const caSki = extensionBody(caText, "X509v3 Subject Key Identifier:");
    assert.match(caSki, /^[0-9A-F]{2}(:[0-9A-F]{2}){19}$/);
    assert.equal(extensionBody(text, "X509v3 Authority Key Identifier:").replace(/^keyid:/, ""), caSki);

    assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
    assert.match(text, /Public-Key: \(2048 bit\)/);
    assert.match(text, /^\s+Subject: CN=[0-9A-F]{24},L=131041,L=Tokyo,C=JP$/m);
    const serial = opensslOk(["x509", "-in", writePem("sign-serial.pem", sign.certificate), "-noout", "-serial"]).trim();
    assert.equal(serial.replace(/^serial=/, "").toLowerCase(), sign.serialNumber);
  });

  it("signing certificate, seen by node-forge: subject, and the six otherNames in JPKI order with the exact values", () => {
    const cert = forge.pki.certificateFromPem(sign.certificate);
    assert.deepEqual(
      cert.subject.attributes.map((a) => [a.shortName, a.value]),
      [["C", "JP"], ["L", "Tokyo"], ["L", "131041"], ["CN", (cert.subject.getField("CN") as { value: string }).value]],
    );
    assert.match((cert.subject.getField("CN") as { value: string }).value, /^[0-9A-F]{24}$/);
    const exts = cert.extensions as Array<{ id: string; critical?: boolean; value: string; [k: string]: unknown }>;
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
    const ku = exts[0] as unknown as Record<string, boolean>;
    assert.deepEqual(
      ["digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign"].filter((b) => ku[b]),
      ["digitalSignature", "nonRepudiation"],
    );

    // SAN: SEQUENCE OF [0] otherName { type-id, [0] EXPLICIT UTF8String }.
    const san = forge.asn1.fromDer(exts[2]!.value);
    const names = (san.value as forge.asn1.Asn1[]).map((gn) => {
      assert.equal(gn.tagClass, forge.asn1.Class.CONTEXT_SPECIFIC);
      assert.equal(gn.type, 0, "otherName");
      const [oid, explicit] = gn.value as forge.asn1.Asn1[];
      const utf8 = (explicit!.value as forge.asn1.Asn1[])[0]!;
      assert.equal(utf8.type, forge.asn1.Type.UTF8);
      return [forge.asn1.derToOid(oid!.value as string), forge.util.decodeUtf8(utf8.value as string)];
    });
    assert.deepEqual(names, [
      ["1.2.392.200149.8.5.5.1", NAME],
      ["1.2.392.200149.8.5.5.4", "319800217"],
      ["1.2.392.200149.8.5.5.3", "1"],
      ["1.2.392.200149.8.5.5.5", ADDRESS],
      ["1.2.392.200149.8.5.5.2", "00000"],
      ["1.2.392.200149.8.5.5.6", "00000000000000000"],
    ]);
  });

  it("user-auth certificate: keyUsage digitalSignature only, policy …3.30, subject C=JP,CN=…, no personal data in the DER", async () => {
    const text = x509Text(auth.certificate, "auth-text.pem");
    assert.deepEqual(extensionHeaders(text), [
      "X509v3 Key Usage: critical",
      "X509v3 Certificate Policies: critical",
      "X509v3 Issuer Alternative Name:",
      "X509v3 CRL Distribution Points:",
      "Authority Information Access:",
      "X509v3 Authority Key Identifier:",
      "X509v3 Subject Key Identifier:",
    ]);
    assert.equal(extensionBody(text, "X509v3 Key Usage: critical"), "Digital Signature");
    assert.match(extensionBody(text, "X509v3 Certificate Policies: critical"), /^Policy: 1\.2\.392\.200149\.8\.5\.1\.3\.30$/m);
    assert.equal(extensionBody(text, "X509v3 Issuer Alternative Name:"), `DirName:/C=JP/O=${opensslEscaped("公的個人認証サービス")}/OU=${opensslEscaped("利用者証明用認証局")}`);
    assert.match(extensionBody(text, "Authority Information Access:"), /^OCSP - URI:http:\/\/127\.0\.0\.1:8080\/ocsp$/);
    assert.doesNotMatch(text, /Extended Key Usage|Subject Alternative Name/);
    assert.match(text, /^\s+Subject: CN=[0-9A-F]{24},C=JP$/m);
    const record = (await getCertificate(auth.serialNumber)).json<{ partition: number }>();
    assert.ok(record.partition >= 0 && record.partition < 16);
    assert.match(extensionBody(text, "X509v3 CRL Distribution Points:"), new RegExp(`URI:http://127\\.0\\.0\\.1:8080/crl/auth-g1/${record.partition}\\.crl$`, "m"));
    const caSki = extensionBody(x509Text(await caPemOf("auth-g1"), "auth-ca-text.pem"), "X509v3 Subject Key Identifier:");
    assert.equal(extensionBody(text, "X509v3 Authority Key Identifier:").replace(/^keyid:/, ""), caSki);

    const authDer = derOfPem(auth.certificate);
    const signDer = derOfPem(sign.certificate);
    for (const value of [NAME, ADDRESS, "319800217", DOB, RESIDENT_CODE]) {
      assert.equal(authDer.includes(Buffer.from(value, "utf8")), false, "personal data in the user-auth certificate");
    }
    // …while the same search finds them in the signing certificate (the check can fail).
    for (const value of [NAME, ADDRESS, "319800217"]) assert.equal(signDer.includes(Buffer.from(value, "utf8")), true);
    assert.equal(signDer.includes(Buffer.from(RESIDENT_CODE)), false, "the resident code is never in a certificate");
  });

  it("notAfter is 14:59:59Z on the 5th birthday after the issuance date (JST)", () => {
    for (const c of [sign, auth]) {
      const notBefore = new Date(c.notBefore);
      assert.equal(notBefore.getUTCMilliseconds(), 0);
      const jst = new Date(notBefore.getTime() + 9 * 3600_000);
      const [y, m, d] = [jst.getUTCFullYear(), jst.getUTCMonth() + 1, jst.getUTCDate()];
      // The first birthday strictly after the issuance date, then four more.
      const first = m < 2 || (m === 2 && d < 17) ? y : y + 1;
      const expected = `${first + 4}-02-17T14:59:59.000Z`;
      assert.equal(c.notAfter, expected, c.kind);
      const certText = opensslOk(["x509", "-in", writePem(`${c.kind}-dates.pem`, c.certificate), "-noout", "-enddate"]);
      const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
      assert.equal(certText.trim(), `notAfter=${months[1]} 17 14:59:59 ${first + 4} GMT`);
    }
  });

  it("GET /v1/certificates/{serial} answers status valid and the recorded fields", async () => {
    const res = await getCertificate(sign.serialNumber);
    assert.equal(res.status, 200, res.body.toString("utf8"));
    const r = res.json<Record<string, unknown>>();
    assert.equal(r.status, "valid");
    assert.equal(r.serialNumber, sign.serialNumber);
    assert.equal(r.caId, "sign-g1");
    assert.equal(r.kind, "sign");
    assert.equal(r.issuanceId, issued.issuanceId);
    assert.equal(r.municipalityCode, MUNICIPALITY);
    assert.equal(r.applicationDate, jstToday());
    assert.equal(r.notBefore, sign.notBefore);
    assert.equal(r.notAfter, sign.notAfter);
    assert.equal(r.policyOid, sign.policyOid);
    assert.equal(r.publicKey, sign.publicKey);
    assert.deepEqual(r.subject, sign.subject);
    assert.equal(r.revokedAt, null);
    assert.equal(r.revocationReason, null);
    assert.equal(r.certificate, sign.certificate);
    const a = (await getCertificate(auth.serialNumber)).json<Record<string, unknown>>();
    assert.equal(a.status, "valid");
    assert.equal(a.subject, undefined);

    assertProblem(await getCertificate("0badc0ffee"), 404);
    assertProblem(await getCertificate("not-hex"), 400, "serial");
  });

  it("re-issuing the user-auth kind with a new key supersedes the old certificate", async () => {
    const res = await issue(application([{ kind: "auth", csr: keys[4]!.csr }]));
    assert.equal(res.status, 201, res.body.toString("utf8"));
    const renewed = res.json<IssuanceAnswer>().certificates;
    assert.deepEqual(renewed.map((c) => c.kind), ["auth"]);
    const old = (await getCertificate(auth.serialNumber)).json<Record<string, unknown>>();
    assert.equal(old.status, "revoked");
    assert.equal(old.revocationReason, "superseded");
    assert.ok(typeof old.revokedAt === "string" && Date.parse(old.revokedAt) >= Date.parse(auth.notBefore));
    assert.equal((await getCertificate(renewed[0]!.serialNumber)).json<{ status: string }>().status, "valid");
    assert.equal((await getCertificate(sign.serialNumber)).json<{ status: string }>().status, "valid", "the signing certificate stays");
  });

  it("a public key already in a valid certificate is refused in a second application: 409 naming the csr field", async () => {
    // keys[1] is in the valid signing certificate of RESIDENT_CODE.
    const body = application([{ kind: "auth", csr: keys[1]!.csr }], { residentCode: "33333333333" });
    assertProblem(await issue(body), 409, "requests[0].csr");
  });

  it("an application whose resident record differs from the one on file (same residentCode, other name) → 409 resident.name", async () => {
    const other = "山田　次郎";
    const body = application([{ kind: "auth", csr: keys[0]!.csr }], { resident: resident({ name: other, nameSubstituteFlags: "00000" }) });
    assertProblem(await issue(body), 409, "resident.name");
  });

  it("a resident no longer on the register (deceased) gets no certificate → 422 residentCode", async () => {
    const r = resident();
    await t.service.db.knex("residents").insert({
      resident_code: "44444444444",
      name: r.name,
      name_substitute_flags: r.nameSubstituteFlags,
      alias: null,
      alias_substitute_flags: null,
      date_of_birth: r.dateOfBirth,
      gender: r.gender,
      address: r.address,
      address_substitute_flags: r.addressSubstituteFlags,
      status: "deceased",
      created_at: new Date(),
      updated_at: new Date(),
    });
    assertProblem(await issue(application([{ kind: "auth", csr: keys[0]!.csr }], { residentCode: "44444444444" })), 422, "residentCode");
  });

  it("the service log (debug level) never carries the name, address, date of birth or resident code", () => {
    assertNoPersonalDataInLogs(t.logs());
  });
});
