import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { requestJson, type HttpAnswer } from "../support/https-client.js";
import { cardCertificate, signHolderRequest, type CardKeyPair } from "../support/holder-signing.js";
import type { TestService } from "../support/service-harness.js";
import { buildHolder } from "../../api/wiring/holder.js";
import { LiveCaGenerations } from "../../api/wiring/live-ca-generations.js";
import { application, assertProblem, csrPemOf, derOfPem, NAME, startIssuanceService, type CardKey, type IssuanceAnswer, type IssuedCertificate } from "./support/issuance-e2e.js";

/**
 * Issue 16 item 1 end to end (docs/phone.md): a card issued at the counter signs an online application with
 * its signing key (`openssl cms -sign`), a registered holder portal relays it over mTLS, and the phone's
 * signing and user-auth certificates come back — verified by `openssl verify` against the CA certificate,
 * the resident fields the CA's record, a second phone superseding the first (OCSP through `openssl ocsp`),
 * every bad input refused naming its field and audited, and the holder's suspension and resumption.
 */

interface PhoneAnswer {
  certificates: Array<IssuedCertificate & { device: string }>;
}

const work = resolve("var/test/e2e-phone");
const execFileAsync = promisify(execFile);

function openssl(args: string[], input?: string): { status: number; out: string } {
  const r = spawnSync("openssl", args, { encoding: "utf8", ...(input === undefined ? {} : { input }) });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

describe("e2e: smartphone certificates through a card-signed online application (docs/phone.md)", function () {
  this.timeout(240_000);
  let t: TestService;
  let keys: CardKey[];
  let dir: string;
  let portalTls: { ca: string; cert: string; key: string };
  let card: CardKeyPair;
  let cardAuth: CardKeyPair;
  let cardAnswer: IssuanceAnswer;
  let apiKey: string;
  let phone1: PhoneAnswer;
  let phone2: PhoneAnswer;

  const post = (path: string, body: unknown): Promise<HttpAnswer> => requestJson(`${t.httpsUrl}/v1/holder/${path}`, "POST", body, portalTls);
  const content = (purpose: string, extra: Record<string, unknown> = {}) => ({ purpose, signedAt: new Date().toISOString(), ...extra });
  const application1 = (sign: CardKey, auth: CardKey, extra: Record<string, unknown> = {}) => content("phone-application", { phoneId: "phone-1", csrs: { sign: sign.csr, auth: auth.csr }, ...extra });
  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const deniedCount = async (): Promise<number> => Number((await t.service.db.knex("audit_log").where({ action: "holder.request.denied" }).count<{ count: string }[]>("* as count"))[0]!.count);
  const status = async (serial: string) => (await t.service.stores.certificates.get(serial))!;
  const pair = (answer: PhoneAnswer, kind: "sign" | "auth") => answer.certificates.find((c) => c.kind === kind)!;

  /** `openssl ocsp` as a registered relying party until the answer matches (the OCSP side follows the outbox). */
  async function ocspText(cert: IssuedCertificate, expect: RegExp): Promise<string> {
    const ca = file(`ca-${cert.caId}.pem`, cert.caCertificate);
    const leaf = file(`leaf-${cert.serialNumber}.pem`, cert.certificate);
    let last = "";
    for (let i = 0; i < 40; i++) {
      // Asynchronously: the service answers in this process, so a synchronous child would wait for ever.
      const r = await execFileAsync("openssl", ["ocsp", "-issuer", ca, "-cert", leaf, "-url", `${t.httpUrl}/ocsp`, "-header", `Authorization=Bearer ${apiKey}`, "-no_nonce", "-CAfile", ca, "-resp_text"], { timeout: 10_000 }).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? "", stderr: e.stderr ?? "" }));
      last = `${r.stdout}${r.stderr}`;
      if (expect.test(last)) return last;
      await sleep(250);
    }
    assert.fail(`OCSP never matched ${expect}: ${last.slice(-600)}`);
  }

  /** A refusal: status, the field named, one more denial in the audit log. */
  async function refused(res: Promise<HttpAnswer>, code: number, field: string): Promise<void> {
    const before = await deniedCount();
    assertProblem(await res, code, field);
    assert.equal(await deniedCount(), before + 1, "the refusal is audited once");
  }

  before(async function () {
    ({ t, keys } = await startIssuanceService(this, "phone-life", 11));
    mkdirSync(work, { recursive: true });
    dir = mkdtempSync(join(work, "run-"));
    // The card, at the counter (docs/api.md §4).
    const token = await t.login("terminal-operator");
    const issued = await requestJson(`${t.httpsUrl}/v1/issuances`, "POST", application([{ kind: "auth", csr: keys[0]!.csr }, { kind: "sign", csr: keys[1]!.csr }]), t.tls("terminal"), { "Idempotency-Key": `phone-${process.pid}`, Authorization: `Bearer ${token}` });
    assert.equal(issued.status, 201, issued.body.toString());
    cardAnswer = issued.json<IssuanceAnswer>();
    const cardCert = (kind: "sign" | "auth", key: CardKey): CardKeyPair => {
      const c = cardAnswer.certificates.find((x) => x.kind === kind)!;
      return { serial: c.serialNumber, der: new Uint8Array(derOfPem(c.certificate)), certificatePem: c.certificate, privateKey: key.privateKey };
    };
    card = cardCert("sign", keys[1]!);
    cardAuth = cardCert("auth", keys[0]!);
    // The holder portal (マイナポータル role), enrolled by the security officer like a feed.
    const so = await t.login("security-officer");
    const enrolled = await requestJson(`${t.httpsUrl}/v1/admin/holder-portals`, "POST", { id: "myna-portal" }, t.tls("admin"), { Authorization: `Bearer ${so}` });
    assert.equal(enrolled.status, 201, enrolled.body.toString());
    const e = enrolled.json<{ certificate: string; privateKey: string }>();
    portalTls = { ca: t.demo.tlsCa, cert: e.certificate, key: e.privateKey };
    apiKey = (JSON.parse(readFileSync(join(t.config.demoDir, "relying-party.json"), "utf8")) as { apiKey: string }).apiKey;
  });

  after(async () => {
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("issues the phone pair: OU=phone, verified by openssl against the CA, resident fields from the record (not the request), capped by the card", async () => {
    const res = await post("phone-applications", { signedRequest: signHolderRequest(card, application1(keys[2]!, keys[3]!, { resident: { name: "山田　次郎" }, name: "山田　次郎" })) });
    assert.equal(res.status, 201, res.body.toString());
    phone1 = res.json<PhoneAnswer>();
    assert.deepEqual(phone1.certificates.map((c) => [c.kind, c.device]), [["auth", "phone"], ["sign", "phone"]]);
    for (const c of phone1.certificates) {
      const verified = openssl(["verify", "-CAfile", file(`ca-${c.caId}.pem`, c.caCertificate), file(`p1-${c.kind}.pem`, c.certificate)]);
      assert.equal(verified.status, 0, verified.out);
      assert.match(openssl(["x509", "-noout", "-subject"], c.certificate).out, /OU ?= ?phone/);
      assert.ok(new Date(c.notAfter) <= new Date(cardAnswer.certificates.find((x) => x.kind === "sign")!.notAfter), "never outlives the card's signing certificate");
    }
    const sign = pair(phone1, "sign");
    assert.equal(sign.subject?.name, NAME);
    const text = openssl(["x509", "-noout", "-text"], sign.certificate).out;
    assert.ok(!text.includes("次郎"), "the request's resident fields are ignored");
    const links = t.service.stores.certificateLinks;
    assert.deepEqual((await links.to(sign.serialNumber, "card-phone")).map((l) => l.fromSerial), [card.serial]);
    assert.deepEqual((await links.to(pair(phone1, "auth").serialNumber, "card-phone")).map((l) => l.fromSerial), [cardAuth.serial]);
    assert.deepEqual((await links.from(sign.serialNumber, "sign-auth")).map((l) => l.toSerial), [pair(phone1, "auth").serialNumber]);
    assert.equal((await status(sign.serialNumber)).device, "phone");
  });

  it("answers a retry of the same signedRequest with the same certificates", async () => {
    const signed = signHolderRequest(card, application1(keys[6]!, keys[7]!, { phoneId: "phone-retry" }));
    const first = await post("phone-applications", { signedRequest: signed });
    assert.equal(first.status, 201, first.body.toString());
    const again = await post("phone-applications", { signedRequest: signed });
    assert.equal(again.status, 201);
    assert.equal(again.headers["idempotent-replayed"], "true");
    assert.deepEqual(again.json<PhoneAnswer>(), first.json<PhoneAnswer>());
    phone1 = first.json<PhoneAnswer>(); // the newest phone now; phone-1's certificates were superseded by it
  });

  it("a second phone supersedes the first: OCSP (openssl) says revoked, superseded; a successor link per kind", async () => {
    const res = await post("phone-applications", { signedRequest: signHolderRequest(card, application1(keys[4]!, keys[5]!, { phoneId: "phone-2" })) });
    assert.equal(res.status, 201, res.body.toString());
    phone2 = res.json<PhoneAnswer>();
    for (const kind of ["sign", "auth"] as const) {
      const old = pair(phone1, kind);
      assert.deepEqual([(await status(old.serialNumber)).status, (await status(old.serialNumber)).revocationReason], ["revoked", "superseded"]);
      assert.deepEqual((await t.service.stores.certificateLinks.to(pair(phone2, kind).serialNumber, "successor")).map((l) => l.fromSerial), [old.serialNumber]);
    }
    const text = await ocspText(pair(phone1, "sign"), /Cert Status: revoked[\s\S]*Reason: superseded/);
    assert.match(text, /Response verify OK/);
    // The card's own certificates are untouched.
    assert.equal((await status(card.serial)).status, "valid");
  });

  describe("refusals, each naming the field and audited", () => {
    it("a request signed for another purpose (a consent)", () => refused(post("phone-applications", { signedRequest: signHolderRequest(card, content("consent-grant", { phoneId: "x", csrs: {} })) }), 422, "signedRequest"));
    it("a stale signedAt", () =>
      refused(post("phone-applications", { signedRequest: signHolderRequest(card, { ...application1(keys[8]!, keys[3]!), signedAt: new Date(Date.now() - 600_000).toISOString() }) }), 422, "signedRequest"));
    it("a card certificate this CA did not issue", () => {
      const foreign = cardCertificate(card.serial.replace(/^../, "7f"), new Date(Date.now() - 86_400_000), new Date(Date.now() + 86_400_000 * 365));
      return refused(post("phone-applications", { signedRequest: signHolderRequest(foreign, application1(keys[8]!, keys[3]!)) }), 422, "signedRequest");
    });
    it("the card's user-authentication key", () => refused(post("phone-applications", { signedRequest: signHolderRequest(cardAuth, application1(keys[8]!, keys[3]!)) }), 422, "signedRequest"));
    it("a CSR whose signature does not verify (no proof of possession)", () => {
      const der = derOfPem(keys[8]!.csr);
      der.writeUInt8(der.readUInt8(der.length - 1) ^ 0x01, der.length - 1);
      return refused(post("phone-applications", { signedRequest: signHolderRequest(card, application1({ ...keys[8]!, csr: csrPemOf(der) }, keys[3]!)) }), 422, "signedRequest.csrs.sign");
    });
    it("a phone key that is the card's (in a live certificate), or was certified before (a superseded phone's)", async () => {
      await refused(post("phone-applications", { signedRequest: signHolderRequest(card, application1(keys[1]!, keys[8]!)) }), 409, "signedRequest.csrs.sign");
      await refused(post("phone-applications", { signedRequest: signHolderRequest(card, application1(keys[2]!, keys[8]!)) }), 409, "signedRequest.csrs.sign");
    });
    it("no signedRequest, or not base64", async () => {
      assertProblem(await post("phone-applications", {}), 400, "signedRequest");
      await refused(post("phone-applications", { signedRequest: "%%%" }), 400, "signedRequest");
    });
    it("a client that is not a registered holder portal (the counter terminal)", async () => {
      const res = await requestJson(`${t.httpsUrl}/v1/holder/phone-applications`, "POST", { signedRequest: "AAAA" }, t.tls("terminal"));
      assertProblem(res, 403);
    });
  });

  describe("the holder's suspension, resumption and revocation of the phone certificates", () => {
    it("suspends the phone user-auth certificate (OCSP: certificateHold); the same signed request again is a replay (409)", async () => {
      const signed = signHolderRequest(card, content("phone-suspension"));
      const res = await post("phone-certificates/suspension", { signedRequest: signed });
      assert.equal(res.status, 200, res.body.toString());
      const auth = pair(phone2, "auth");
      assert.deepEqual(res.json<{ certificates: unknown[] }>().certificates, [{ serialNumber: auth.serialNumber, kind: "auth", status: "hold", revocationReason: "certificateHold" }]);
      assert.equal((await status(pair(phone2, "sign").serialNumber)).status, "valid");
      await ocspText(auth, /Cert Status: revoked[\s\S]*Reason: certificateHold/);
      await refused(post("phone-certificates/suspension", { signedRequest: signed }), 409, "signedRequest");
    });

    it("lifts the suspension only through the signed resumption (OCSP good again)", async () => {
      const res = await post("phone-certificates/resumption", { signedRequest: signHolderRequest(card, content("phone-resumption")) });
      assert.equal(res.status, 200, res.body.toString());
      const auth = pair(phone2, "auth");
      assert.equal((await status(auth.serialNumber)).status, "valid");
      await ocspText(auth, /Cert Status: good/);
      // Nothing held any more: a second resumption is refused.
      await refused(post("phone-certificates/resumption", { signedRequest: signHolderRequest(card, content("phone-resumption")) }), 409, "signedRequest");
      // A suspension signed request cannot be used as a resumption.
      await refused(post("phone-certificates/resumption", { signedRequest: signHolderRequest(card, content("phone-suspension")) }), 422, "signedRequest");
    });

    it("revokes both phone certificates with an allowed reason; refuses a reason outside the list", async () => {
      await refused(post("phone-certificates/revocation", { signedRequest: signHolderRequest(card, content("phone-revocation", { reason: "cACompromise" })) }), 422, "signedRequest.reason");
      const res = await post("phone-certificates/revocation", { signedRequest: signHolderRequest(card, content("phone-revocation", { reason: "cessationOfOperation" })) });
      assert.equal(res.status, 200, res.body.toString());
      for (const kind of ["sign", "auth"] as const) {
        const s = await status(pair(phone2, kind).serialNumber);
        assert.deepEqual([s.status, s.revocationReason], ["revoked", "cessationOfOperation"]);
      }
      assert.equal((await status(card.serial)).status, "valid");
    });
  });

  describe("invariant 1: an application left pending by a crash", () => {
    it("is completed by the phone reconciler from the stored TBS, and a retry then answers the same certificates", async () => {
      const signed = signHolderRequest(card, application1(keys[9]!, keys[10]!, { phoneId: "phone-3" }));
      const first = await post("phone-applications", { signedRequest: signed });
      assert.equal(first.status, 201, first.body.toString());
      const serials = first.json<PhoneAnswer>().certificates.map((c) => c.serialNumber);
      // The previous phone was revoked by its holder (the test before): its certificates are still the
      // predecessors of this phone's, per kind (docs/linkage.md: a new phone after a lost one).
      for (const c of first.json<PhoneAnswer>().certificates) {
        assert.deepEqual((await t.service.stores.certificateLinks.to(c.serialNumber, "successor")).map((l) => l.fromSerial), [pair(phone2, c.kind).serialNumber]);
      }
      // The state a crash between reservation and completion leaves: pending rows, no answer recorded.
      const knex = t.service.db.knex;
      await knex("certificates").whereIn("serial", serials).update({ status: "pending", der: null });
      const { digest } = (await knex("holder_requests").where({ purpose: "phone-application" }).orderBy("created_at", "desc").first("digest")) as { digest: string };
      await knex.raw("update holder_requests set outcome = jsonb_build_object('serials', outcome -> 'serials'), created_at = now() - interval '5 minutes' where digest = ?", [digest]);
      const live = await LiveCaGenerations.load(t.service);
      const holder = buildHolder(t.service, live.authorities, { liftPhoneHold: () => Promise.reject(new Error("unused")) });
      assert.deepEqual(await holder.phoneIssuance.reconcile(), { completed: 1, failed: 0 });
      for (const s of serials) assert.equal((await status(s)).status, "valid");
      assert.deepEqual(await holder.phoneIssuance.reconcile(), { completed: 0, failed: 0 });
      const again = await post("phone-applications", { signedRequest: signed });
      assert.equal(again.status, 201);
      assert.deepEqual(again.json<PhoneAnswer>().certificates.map((c) => c.serialNumber), serials);
      for (const c of again.json<PhoneAnswer>().certificates) assert.equal(openssl(["verify", "-CAfile", file(`ca3-${c.caId}.pem`, c.caCertificate), file(`p3-${c.kind}.pem`, c.certificate)]).status, 0);
    });
  });

  describe("the card certificate that signs must be valid now", () => {
    it("refuses a held card signing certificate, then an expired one", async () => {
      await t.service.stores.certificates.revoke(card.serial, { status: "hold", reason: "certificateHold", revokedAt: new Date(), invalidityDate: null });
      await refused(post("phone-applications", { signedRequest: signHolderRequest(card, application1(keys[8]!, keys[3]!)) }), 422, "signedRequest");
      await t.service.db.knex("certificates").where({ serial: card.serial }).update({ status: "valid", revoked_at: null, revocation_reason: null, not_after: new Date(Date.now() - 1000) });
      await refused(post("phone-applications", { signedRequest: signHolderRequest(card, application1(keys[8]!, keys[3]!)) }), 422, "signedRequest");
    });
  });

  describe("after the whole life cycle", () => {
    it("keeps personal data out of the service log", () => {
      const logs = t.logs();
      assert.match(logs, /\/v1\/holder\/phone-applications/);
      for (const p of [NAME, "山田", "12345678901"]) assert.equal(logs.includes(p), false);
    });
  });
});
