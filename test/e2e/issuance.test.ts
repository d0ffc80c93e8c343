import assert from "node:assert/strict";
import { generateKeyPair, generateKeyPairSync, type KeyObject } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import forge from "node-forge";
import { checkCaKeys } from "../../api/main.js";
import { buildAuthorities } from "../../api/wiring/issuing-authorities.js";
import { createAliasFormatter } from "../../ca/residents/alias-format.js";
import { IssuanceService } from "../../ca/issuance/issuance-service.js";
import { KnexResidentMunicipalityStore } from "../../db/resident-municipality-store.js";
import type { TransactionRunner } from "../../ca/stores.js";
import { operatorAuthOf } from "../../cli/operator-commands.js";
import { pem } from "../../ca/x509/pem.js";
import { requirePostgresUrl } from "../support/database.js";
import { request, requestJson, type HttpAnswer } from "../support/https-client.js";
import { startTestService, type TestService } from "../support/service-harness.js";
import { extensionBody, extensionHeaders, openssl, opensslEscaped, opensslOk, scratchDir } from "../integration/x509/openssl.js";

/**
 * docs/api.md §4 issuance end to end: real PostgreSQL, SoftHSM and the HTTPS listener with client
 * certificates, card-like CSRs (node:crypto keys, node-forge PKCS#10), and openssl as the relying
 * party that checks what was issued. One service instance for the whole file; the its run in order
 * and share the certificates issued early on.
 */

const generateRsa = promisify(generateKeyPair);

interface CardKey {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
  /** The PKCS#10 request a card would send (PEM). */
  readonly csr: string;
  /** DER SubjectPublicKeyInfo, base64 (as the answer's `publicKey`). */
  readonly spkiBase64: string;
}

/** A PKCS#10 request signed with the key, the way a card's middleware builds one. */
function csrOf(publicKey: KeyObject, privateKey: KeyObject): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }).toString());
  csr.setSubject([{ name: "commonName", value: "JPKI card" }]);
  csr.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: "pkcs1", format: "pem" }).toString()) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

function cardKey(pair: { publicKey: KeyObject; privateKey: KeyObject }): CardKey {
  return { ...pair, csr: csrOf(pair.publicKey, pair.privateKey), spkiBase64: pair.publicKey.export({ type: "spki", format: "der" }).toString("base64") };
}

const derOfPem = (text: string): Buffer => Buffer.from(text.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
const csrPemOf = (der: Uint8Array): string => pem(der, "CERTIFICATE REQUEST");

/** Today's date in Japan (the service decides "today" in JST). */
const jstToday = (): string => new Date(Date.now() + 9 * 3600_000).toISOString().slice(0, 10);

const NAME = "山田　太郎";
const ADDRESS = "東京都新宿区歌舞伎町一丁目４番１号";
const DOB = "1980-02-17";
const RESIDENT_CODE = "12345678901";
const MUNICIPALITY = "131041";

function resident(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const applicationYear = Number(jstToday().slice(0, 4));
  return {
    name: NAME,
    nameSubstituteFlags: "0".repeat([...NAME].length),
    alias: null,
    dateOfBirth: DOB,
    gender: 1,
    address: ADDRESS,
    addressSubstituteFlags: "0".repeat([...ADDRESS].length),
    cardExpiry: `${applicationYear + 10}-12-31`,
    residencePeriodEnd: null,
    underGuardianship: false,
    ...overrides,
  };
}

function application(requests: Array<{ kind: "sign" | "auth"; csr: string }>, overrides: { residentCode?: string; resident?: Record<string, unknown> } = {}): Record<string, unknown> {
  return {
    municipalityCode: MUNICIPALITY,
    applicationDate: jstToday(),
    residentCode: overrides.residentCode ?? RESIDENT_CODE,
    resident: overrides.resident ?? resident(),
    requests,
  };
}

interface IssuedCertificate {
  kind: "sign" | "auth";
  caId: string;
  serialNumber: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  policyOid: string;
  keyUsage: string[];
  publicKey: string;
  subject?: Record<string, string>;
  certificate: string;
  caCertificate: string;
}
interface IssuanceAnswer {
  issuanceId: string;
  certificates: IssuedCertificate[];
}

/** The personal values that must never appear in logs, problems or user-auth certificates. */
const PERSONAL = [NAME, "山田", "太郎", ADDRESS, "歌舞伎町", DOB, "319800217", RESIDENT_CODE, "山田　次郎"];

describe("e2e: issuance over HTTPS (PostgreSQL + SoftHSM + openssl)", function () {
  this.timeout(60_000);
  let t: TestService;
  let token: string;
  let keys: CardKey[];
  let weakKey: CardKey;
  let issued: IssuanceAnswer;
  let sign: IssuedCertificate;
  let auth: IssuedCertificate;
  let scratch: ReturnType<typeof scratchDir>;
  let idem = 0;
  const newKey = (): string => `e2e-${process.pid}-${++idem}`;

  const issue = (body: unknown, opts: { key?: string | null; token?: string | null; client?: "terminal" | "admin" } = {}): Promise<HttpAnswer> => {
    const headers: Record<string, string> = {};
    const key = opts.key === undefined ? newKey() : opts.key;
    if (key !== null) headers["Idempotency-Key"] = key;
    const bearer = opts.token === undefined ? token : opts.token;
    if (bearer !== null) headers["Authorization"] = `Bearer ${bearer}`;
    return requestJson(`${t.httpsUrl}/v1/issuances`, "POST", body, t.tls(opts.client ?? "terminal"), headers);
  };
  const getCertificate = (serial: string, opts: { token?: string; client?: "terminal" | "admin" } = {}): Promise<HttpAnswer> =>
    request(`${t.httpsUrl}/v1/certificates/${serial}`, { tls: t.tls(opts.client ?? "terminal"), headers: { Authorization: `Bearer ${opts.token ?? token}` } });

  /** An RFC 7807 problem with this status and, when given, this field; never echoing personal data. */
  function assertProblem(res: HttpAnswer, status: number, field?: string): Record<string, unknown> {
    const text = res.body.toString("utf8");
    assert.equal(res.status, status, text);
    assert.match(String(res.headers["content-type"]), /^application\/problem\+json(;|$)/);
    const problem = res.json<Record<string, unknown>>();
    assert.equal(problem.status, status);
    assert.match(String(problem.type), /^urn:jpki-ca:problem:/);
    assert.equal(typeof problem.title, "string");
    if (field !== undefined) assert.equal(problem.field, field, text);
    for (const p of PERSONAL) assert.ok(!text.includes(p), "problem echoes personal data");
    return problem;
  }

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
    this.timeout(120_000);
    requirePostgresUrl(this);
    scratch = scratchDir();
    // RSA key generation is the slow part: generate all card keys at once, in the thread pool.
    const pairs = Promise.all(Array.from({ length: 12 }, () => generateRsa("rsa", { modulusLength: 2048, publicExponent: 65537 })));
    t = await startTestService({ name: "e2e-issuance", engine: "postgres", logLevel: "debug" });
    keys = (await pairs).map(cardKey);
    weakKey = cardKey(generateKeyPairSync("rsa", { modulusLength: 1024 }));
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

  it("a retry with the same Idempotency-Key and body answers the same 201 (Idempotent-Replayed); another body → 409", async () => {
    const key = newKey();
    const body = application([{ kind: "auth", csr: keys[2]!.csr }, { kind: "sign", csr: keys[3]!.csr }], { residentCode: "22222222222" });
    const first = await issue(body, { key });
    assert.equal(first.status, 201, first.body.toString("utf8"));
    const again = await issue(body, { key });
    assert.equal(again.status, 201);
    assert.equal(again.headers["idempotent-replayed"], "true");
    assert.deepEqual(again.json(), first.json());
    // The same body with its members in another order is the same request (canonical JSON).
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const third = await issue(reordered, { key });
    assert.equal(third.status, 201);
    assert.deepEqual(third.json(), first.json());

    const other = { ...body, resident: resident({ cardExpiry: `${Number(jstToday().slice(0, 4)) + 9}-12-31` }) };
    assertProblem(await issue(other, { key }), 409, "Idempotency-Key");
    // The retries issued nothing new: the first answer's certificates are the resident's live ones.
    const firstAnswer = first.json<IssuanceAnswer>();
    for (const c of firstAnswer.certificates) assert.equal((await getCertificate(c.serialNumber)).json<{ status: string }>().status, "valid");
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

  it("one key sent at once in applications for two residents: one certificate, the other 409 naming the csr field", async () => {
    // Different residents lock different records; the database's unique index on live keys decides.
    const bodies = ["71000000001", "71000000002"].map((residentCode) => application([{ kind: "auth", csr: keys[9]!.csr }], { residentCode }));
    const answers = await Promise.all(bodies.map((b) => issue(b)));
    assert.deepEqual(answers.map((a) => a.status).sort(), [201, 409], answers.map((a) => a.body.toString("utf8")).join(" | "));
    assertProblem(answers.find((a) => a.status === 409)!, 409, "requests[0].csr");
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

  describe("recovery of an issuance left pending (docs/design.md invariant 1: a crash between reserve and store)", () => {
    const ctx = (idempotencyKey: string) => ({ terminalId: "demo-terminal-1", operatorId: t.demo.operators["terminal-operator"].operatorId, idempotencyKey, municipalityCode: "131041" });
    /** The service as buildHandlers wires it, with a runner that can "crash" before the completing transaction. */
    const serviceWith = async (transactions: TransactionRunner): Promise<IssuanceService> => {
      const s = t.service;
      const authorities = buildAuthorities(await s.stores.caGenerations.list(), await checkCaKeys(s), { publicBaseUrl: s.config.publicBaseUrl });
      const { certificates, issuances, residents, audit } = s.stores;
      return new IssuanceService({ clock: s.clock, random: s.random, transactions, certificates, issuances, residents, audit, authorities, aliasFormatter: createAliasFormatter(), residentMunicipalities: new KnexResidentMunicipalityStore(s.db) });
    };
    /** Runs step (1) only: the second transaction (step 3) fails as a process dying after signing would. */
    const crashAfterReserve = async (key: string, body: unknown): Promise<string> => {
      let n = 0;
      const crashing: TransactionRunner = { transaction: (work) => (++n === 1 ? t.service.db.transaction(work) : Promise.reject(new Error("crash"))) };
      await assert.rejects((await serviceWith(crashing)).issue(ctx(key), body), /crash/);
      const pending = await t.service.stores.issuances.findByKey("demo-terminal-1", key);
      assert.equal(pending?.status, "pending");
      const rows = await t.service.stores.certificates.listByIssuance(pending.issuanceId);
      assert.ok(rows.length === 1 && rows[0]!.status === "pending" && rows[0]!.der === null);
      return pending.issuanceId;
    };

    it("a retry with the same Idempotency-Key finishes it from the stored TBS (201), once", async () => {
      const key = newKey();
      const body = application([{ kind: "auth", csr: keys[6]!.csr }], { residentCode: "70000000001" });
      const issuanceId = await crashAfterReserve(key, body);
      const res = await issue(body, { key });
      assert.equal(res.status, 201, res.body.toString("utf8"));
      assert.equal(res.headers["idempotent-replayed"], "true");
      const answer = res.json<IssuanceAnswer>();
      assert.equal(answer.issuanceId, issuanceId);
      assert.equal(answer.certificates[0]?.kind, "auth");
      assert.match(answer.certificates[0]!.certificate, /^-----BEGIN CERTIFICATE-----/);
      const stored = (await getCertificate(answer.certificates[0]!.serialNumber)).json<Record<string, unknown>>();
      assert.equal(stored.status, "valid");
      assert.equal(stored.certificate, answer.certificates[0]!.certificate);
      const again = await issue(body, { key });
      assert.deepEqual(again.json(), answer);
    });

    it("the reconciler completes it, supersedes the resident's previous certificate of the kind, and audits it", async () => {
      const code = "70000000002";
      const first = await issue(application([{ kind: "auth", csr: keys[8]!.csr }], { residentCode: code }));
      assert.equal(first.status, 201, first.body.toString("utf8"));
      const previous = first.json<IssuanceAnswer>().certificates[0]!.serialNumber;
      const issuanceId = await crashAfterReserve(newKey(), application([{ kind: "auth", csr: keys[7]!.csr }], { residentCode: code }));
      assert.deepEqual(await (await serviceWith(t.service.db)).reconcile(0), { completed: 1, failed: 0 });
      const done = await t.service.stores.issuances.get(issuanceId);
      assert.equal(done?.status, "completed");
      const serial = (done?.response as unknown as IssuanceAnswer).certificates[0]!.serialNumber;
      assert.equal((await getCertificate(serial)).json<{ status: string }>().status, "valid");
      const old = (await getCertificate(previous)).json<Record<string, unknown>>();
      assert.equal(old.status, "revoked");
      assert.equal(old.revocationReason, "superseded");
      const audit = await t.service.stores.audit.range(1, 100_000);
      const entry = audit.find((e) => e.subject === `issuance:${issuanceId}`);
      assert.equal(entry?.action, "certificate.issued");
      assert.deepEqual(entry?.detail.superseded, [previous]);
      assert.deepEqual((entry?.detail.certificates as Array<{ serial: string }>).map((c) => c.serial), [serial]);
    });
  });

  it("two applications of one kind for one resident completing at the same moment: one valid, the other superseded", async () => {
    const code = "70000000003";
    // Both first transactions run (the resident lock orders them); both completing transactions are
    // then released together, as two terminals' requests would arrive.
    let calls = 0;
    let release: () => void = () => undefined;
    const bothSigned = new Promise<void>((r) => (release = r));
    let waiting = 0;
    const together: TransactionRunner = {
      transaction: async (work) => {
        if (++calls > 2) {
          if (++waiting === 2) release();
          await bothSigned;
        }
        return t.service.db.transaction(work);
      },
    };
    const s = t.service;
    const authorities = buildAuthorities(await s.stores.caGenerations.list(), await checkCaKeys(s), { publicBaseUrl: s.config.publicBaseUrl });
    const { certificates, issuances, residents, audit } = s.stores;
    const service = new IssuanceService({ clock: s.clock, random: s.random, transactions: together, certificates, issuances, residents, audit, authorities, aliasFormatter: createAliasFormatter(), residentMunicipalities: new KnexResidentMunicipalityStore(s.db) });
    const ctx = (idempotencyKey: string) => ({ terminalId: "demo-terminal-1", operatorId: t.demo.operators["terminal-operator"].operatorId, idempotencyKey, municipalityCode: "131041" });
    const answers = await Promise.all([keys[10]!, keys[11]!].map((k) => service.issue(ctx(newKey()), application([{ kind: "auth", csr: k.csr }], { residentCode: code }))));
    const serials = answers.map((a) => (a.answer as unknown as IssuanceAnswer).certificates[0]!.serialNumber);
    const statuses = await Promise.all(serials.map(async (serial) => (await getCertificate(serial)).json<{ status: string; revocationReason?: string }>()));
    assert.deepEqual(statuses.map((x) => x.status).sort(), ["revoked", "valid"], JSON.stringify(statuses));
    assert.equal(statuses.find((x) => x.status === "revoked")?.revocationReason, "superseded");
  });

  describe("bad input: a 4xx problem naming the field, and the service stays ready", () => {
    // keys[0] was superseded, so its key would be refused as certified before (docs/issuance.md, "Key
    // reuse"); every case below is refused earlier, for its own reason.
    const good = (): string => keys[0]!.csr;
    afterEach(async () => {
      const ready = await request(`${t.httpUrl}/readyz`);
      assert.equal(ready.status, 200, ready.body.toString("utf8"));
    });

    it("a CSR whose signature does not verify (one byte of the signature changed) → 422 requests[1].csr", async () => {
      const der = derOfPem(keys[3]!.csr);
      der.writeUInt8(der.readUInt8(der.length - 5) ^ 0x01, der.length - 5);
      const body = application([{ kind: "auth", csr: good() }, { kind: "sign", csr: csrPemOf(der) }], { residentCode: "44444444444" });
      const p = assertProblem(await issue(body), 422, "requests[1].csr");
      assert.match(String(p.detail), /signature does not verify/);
    });

    it("a truncated DER CSR → 400 requests[0].csr", async () => {
      const der = derOfPem(good());
      const body = application([{ kind: "auth", csr: csrPemOf(der.subarray(0, der.length - 40)) }], { residentCode: "44444444444" });
      assertProblem(await issue(body), 400, "requests[0].csr");
    });

    it("a 1 MB body → 413", async () => {
      const body = { ...application([{ kind: "auth", csr: good() }]), padding: "x".repeat(1024 * 1024) };
      assertProblem(await issue(body), 413);
    });

    it("a 1024-bit RSA key → 422 requests[0].csr", async () => {
      const body = application([{ kind: "auth", csr: weakKey.csr }], { residentCode: "44444444444" });
      const p = assertProblem(await issue(body), 422, "requests[0].csr");
      assert.match(String(p.detail), /2048/);
    });

    it("a signing certificate for a 14-year-old → 422 resident.dateOfBirth", async () => {
      const today = jstToday();
      const dob = `${Number(today.slice(0, 4)) - 14}${today.slice(4)}`; // 14 today
      // keys[5]: in no certificate, so the age rule is what refuses it.
      const body = application([{ kind: "auth", csr: good() }, { kind: "sign", csr: keys[5]!.csr }], { residentCode: "55555555555", resident: resident({ dateOfBirth: dob }) });
      assertProblem(await issue(body), 422, "resident.dateOfBirth");
      // All or nothing: no resident record, no issuance, no certificate row was left behind.
      const knex = t.service.db.knex;
      for (const table of ["residents", "issuances", "certificates"]) {
        assert.deepEqual(await knex(table).where({ resident_code: "55555555555" }).count({ n: "*" }), [{ n: 0 }], table);
      }
    });

    it("name substitute flags of the wrong length → 400 resident.nameSubstituteFlags", async () => {
      assertProblem(await issue(application([{ kind: "auth", csr: good() }], { resident: resident({ nameSubstituteFlags: "0000" }) })), 400, "resident.nameSubstituteFlags");
    });

    it("gender 4 → 400 resident.gender", async () => {
      assertProblem(await issue(application([{ kind: "auth", csr: good() }], { resident: resident({ gender: 4 }) })), 400, "resident.gender");
    });

    it("a half-width name → 400 resident.name", async () => {
      assertProblem(await issue(application([{ kind: "auth", csr: good() }], { resident: resident({ name: "Yamada Taro", nameSubstituteFlags: "00000000000" }) })), 400, "resident.name");
    });

    it("an application for another municipality than the terminal's → 403 municipalityCode", async () => {
      // 011002: Sapporo, a valid JIS X 0402 code; the demo terminal is enrolled for 131041.
      assertProblem(await issue({ ...application([{ kind: "auth", csr: good() }]), municipalityCode: "011002" }), 403, "municipalityCode");
    });

    it("a missing Idempotency-Key → 400 Idempotency-Key", async () => {
      assertProblem(await issue(application([{ kind: "auth", csr: good() }]), { key: null }), 400, "Idempotency-Key");
    });

    it("no operator session → 401", async () => {
      const res = await issue(application([{ kind: "auth", csr: good() }]), { token: null });
      assertProblem(res, 401);
      assert.match(String(res.headers["www-authenticate"]), /^Bearer /);
    });

    it("a wrong password three times → 401, 401, 401 (locked, issue 12: same answer); then the right one is refused too", async () => {
      const { oneTimePassword } = await operatorAuthOf(t.service).addOperator("cli", { operatorId: "e2e-lockout", roles: ["terminal-operator"], ready: true });
      assert.ok(oneTimePassword);
      const login = (password: string): Promise<HttpAnswer> => requestJson(`${t.httpsUrl}/v1/sessions`, "POST", { operatorId: "e2e-lockout", password }, t.tls("terminal"));
      // The right password works before the failures (it is not the password that is wrong later).
      assert.equal((await login(oneTimePassword)).status, 201);
      assertProblem(await login("wrong-password-1"), 401);
      assertProblem(await login("wrong-password-2"), 401);
      assertProblem(await login("wrong-password-3"), 401);
      assertProblem(await login(oneTimePassword), 401);
      assert.notEqual((await t.service.stores.operators.get("e2e-lockout"))?.lockedAt, null);
      // The demo operator is not affected.
      assert.match(await t.login("terminal-operator"), /^[A-Za-z0-9_-]{43}$/);
    });

    it("an HTTPS request without a client certificate is refused at the TLS handshake", async () => {
      await assert.rejects(
        request(`${t.httpsUrl}/v1/issuances`, { method: "POST", body: "{}", headers: { "content-type": "application/json" }, tls: t.tls("none") }),
        // TLS 1.3: the server's certificate_required alert (116); TLS 1.2: handshake_failure; or the reset after it.
        (e: NodeJS.ErrnoException) => /^(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE|ECONNRESET)$/.test(String(e.code)),
      );
    });

    it("a session token presented with another client certificate (the admin workstation's) → 401", async () => {
      // The same request works from the terminal the session was opened on…
      assert.equal((await getCertificate(sign.serialNumber)).status, 200);
      // …and not from another client certificate.
      assertProblem(await getCertificate(sign.serialNumber, { client: "admin" }), 401);
      // An issuance from the admin workstation is refused by role before any session check.
      assertProblem(await issue(application([{ kind: "auth", csr: good() }]), { client: "admin" }), 403);
    });
  });

  describe("logs", () => {
    it("the service log (debug level) never carries the name, address, date of birth or resident code", () => {
      const logs = t.logs();
      // The capture works: the access log of this file's requests is there.
      assert.match(logs, /"route":"\/v1\/issuances"/);
      assert.match(logs, /"status":201/);
      const escaped = (s: string): string => [...s].map((c) => (c.charCodeAt(0) > 0x7e ? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}` : c)).join("");
      for (const value of [...PERSONAL, "1980-02-17", "19800217"]) {
        assert.equal(logs.includes(value), false, `log contains personal data (${escaped(value).slice(0, 12)}…)`);
        assert.equal(logs.includes(escaped(value)), false, "log contains escaped personal data");
      }
    });
  });
});
