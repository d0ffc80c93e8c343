import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { KnexCertificateLinkStore } from "../../../db/certificate-link-store.js";
import type { CaKind } from "../../../ca/types.js";
import { request, requestJson, type ClientCredentials } from "../../support/https-client.js";
import { cardCertificate, signHolderRequest, type CardKeyPair } from "../../support/holder-signing.js";
import { requirePostgresUrl } from "../../support/database.js";
import { startTestService, type TestService } from "../../support/service-harness.js";

type Json = Record<string, any>;

/**
 * The routes of docs/relying-parties.md over HTTPS on a whole service (PostgreSQL, SoftHSM): a relying
 * party registered by the CA operator with its verifier types and a client certificate, a holder portal
 * enrolled by the security officer, a consent signed by `openssl cms` with a card user-auth key, the
 * queries with the party's certificate, and the auditor's disclosure report listing consent and answers.
 */
describe("relying-party routes over mTLS (PostgreSQL + SoftHSM)", function () {
  this.timeout(240_000);
  let ts: TestService;
  let bank: ClientCredentials;
  let authOnly: ClientCredentials;
  let portal: ClientCredentials;
  let card: CardKeyPair;
  const RESIDENT = "33333333333";
  const hex = (n: number): string => randomBytes(n).toString("hex");
  const serials = {} as Record<"S" | "A", string>;

  async function certificate(kind: CaKind, der: Uint8Array, serial: string): Promise<void> {
    const now = new Date();
    await ts.service.stores.certificates.insertPending({
      serial, caId: kind === "sign" ? "sign-g1" : "auth-g1", kind, device: "card", notBefore: new Date(now.getTime() - 86_400_000), notAfter: new Date(now.getTime() + 5 * 365 * 86_400_000), partition: 0,
      tbs: Uint8Array.from([0x30, 0x00]), publicKeySha256: hex(32), subjectId: hex(8), residentCode: RESIDENT, issuanceId: null, recorded: {}, createdAt: now,
    });
    await ts.service.stores.certificates.completeIssued(serial, der);
  }
  const credentials = (body: Json): ClientCredentials => ({ ca: ts.demo.tlsCa, cert: body.certificate as string, key: body.privateKey as string });
  const post = (path: string, body: unknown, tls: ClientCredentials) => requestJson(`${ts.httpsUrl}${path}`, "POST", body, tls);

  before(async function () {
    requirePostgresUrl(this);
    ts = await startTestService({ name: "rp-routes", engine: "postgres" });
    const operator = await ts.login("ca-operator");
    const register = async (id: string, verifierTypes: string[]) => {
      const r = await requestJson(`${ts.httpsUrl}/v1/admin/relying-parties`, "POST", { id, name: id, credentials: ["certificate"], verifierTypes }, ts.tls("admin"), { authorization: `Bearer ${operator}` });
      assert.equal(r.status, 201, r.body.toString("utf8"));
      assert.deepEqual(r.json<Json>().verifier.verifierTypes, verifierTypes);
      return credentials(r.json<Json>());
    };
    bank = await register("bank-h", ["signing", "user-auth"]);
    authOnly = await register("auth-h", ["user-auth"]);
    const officer = await ts.login("security-officer");
    const p = await requestJson(`${ts.httpsUrl}/v1/admin/holder-portals`, "POST", { id: "portal-h" }, ts.tls("admin"), { authorization: `Bearer ${officer}` });
    assert.equal(p.status, 201, p.body.toString("utf8"));
    portal = credentials(p.json<Json>());
    const now = new Date();
    await ts.service.db.knex("residents").insert({ resident_code: RESIDENT, name: "佐藤　一郎", name_substitute_flags: "00000", date_of_birth: "1975-05-05", gender: 1, address: "大阪府大阪市北区中之島一丁目３番２０号", address_substitute_flags: "0".repeat(19), created_at: now, updated_at: now });
    card = cardCertificate(`41${hex(15)}`, new Date(now.getTime() - 86_400_000), new Date(now.getTime() + 5 * 365 * 86_400_000));
    serials.A = card.serial;
    serials.S = `01${hex(15)}`;
    await certificate("auth", card.der, serials.A);
    await certificate("sign", Uint8Array.from(randomBytes(48)), serials.S);
    const links = new KnexCertificateLinkStore(ts.service.db);
    await ts.service.db.transaction((tx) => links.insertMany([{ fromSerial: serials.S, toSerial: serials.A, link: "sign-auth", residentCode: RESIDENT, createdAt: now }], tx));
    // The bank checked both certificates by OCSP when the resident used them with it.
    await ts.service.db.knex("ocsp_access_log").insert([serials.S, serials.A].map((serial) => ({ at: now, party: "bank-h", serial, ca_id: null, answer: "good" })));
  });
  after(async () => {
    await ts?.close();
  });

  it("documents the routes in the OpenAPI document", async () => {
    const doc = (await request(`${ts.httpUrl}/openapi.json`)).json<Json>();
    for (const path of ["/v1/relying-party/current-serial", "/v1/relying-party/card-signing-serial", "/v1/relying-party/sign-auth-pair", "/v1/relying-party/latest-four-items", "/v1/holder/consents", "/v1/holder/consents/withdrawal"]) {
      assert.ok(doc.paths[path]?.post, path);
    }
    assert.deepEqual(doc.paths["/v1/relying-party/latest-four-items"].post["x-roles"], ["relying-party"]);
  });

  it("no consent: 404; the holder portal relays a consent signed with the card user-auth key: 201; then the latest four items", async () => {
    const before = await post("/v1/relying-party/latest-four-items", { serial: serials.S.toUpperCase() }, bank);
    assert.equal(before.status, 404);
    assert.equal(before.json<Json>().detail, "no answer for this serial");
    const signedRequest = signHolderRequest(card, { purpose: "consent-grant", signedAt: new Date().toISOString(), relyingParty: "bank-h", scope: ["latest-four-items", "current-serial-sign"] });
    assert.equal((await post("/v1/holder/consents", { signedRequest }, bank)).status, 403, "a relying party cannot relay a consent");
    const granted = await post("/v1/holder/consents", { signedRequest }, portal);
    assert.equal(granted.status, 201, granted.body.toString("utf8"));
    assert.deepEqual(granted.json<Json>().consent.scope, ["latest-four-items", "current-serial-sign"]);
    assert.equal((await post("/v1/holder/consents", { signedRequest }, portal)).status, 409);
    const r = await post("/v1/relying-party/latest-four-items", { serial: serials.S }, bank);
    assert.equal(r.status, 200, r.body.toString("utf8"));
    assert.equal(r.headers["cache-control"], "no-store");
    const body = r.json<Json>();
    assert.deepEqual([body.currentSigningSerial, body.name, body.dateOfBirth, body.gender], [serials.S, "佐藤　一郎", "1975-05-05", 1]);
    const current = await post("/v1/relying-party/current-serial", { serial: serials.S, kind: "sign" }, bank);
    assert.equal(current.json<Json>().currentSerial, serials.S);
  });

  it("sign ↔ auth for a party registered as both; 403 for a user-auth verifier; 400 for a malformed serial; 403 for another kind of machine", async () => {
    const pair = await post("/v1/relying-party/sign-auth-pair", { serial: serials.A }, bank);
    assert.deepEqual(pair.json<Json>(), { query: "sign-auth-pair", signSerial: serials.S, authSerial: serials.A });
    assert.equal((await post("/v1/relying-party/sign-auth-pair", { serial: serials.A }, authOnly)).status, 403);
    const bad = await post("/v1/relying-party/sign-auth-pair", { serial: "zz" }, bank);
    assert.equal(bad.status, 400);
    assert.equal(bad.json<Json>().field, "serial");
    assert.equal((await post("/v1/relying-party/sign-auth-pair", { serial: serials.A }, ts.tls("terminal"))).status, 403);
  });

  it("the CA operator changes a party's verifier types and environment (audited); the queries follow at once", async () => {
    const operator = await ts.login("ca-operator");
    const put = (body: unknown) => requestJson(`${ts.httpsUrl}/v1/admin/relying-parties/auth-h/verifier`, "PUT", body, ts.tls("admin"), { authorization: `Bearer ${operator}` });
    const r = await put({ verifierTypes: ["signing", "user-auth"], environment: "production" });
    assert.equal(r.status, 200, r.body.toString("utf8"));
    assert.deepEqual(r.json<Json>().verifier, { verifierTypes: ["signing", "user-auth"], environment: "production", platformId: null });
    assert.equal((await post("/v1/relying-party/sign-auth-pair", { serial: serials.A }, authOnly)).status, 404, "now allowed, but it never saw the serial");
    assert.equal((await put({ verifierTypes: ["signing", "user-auth"], environment: "test" })).status, 200);
    assert.equal((await post("/v1/relying-party/sign-auth-pair", { serial: serials.A }, authOnly)).status, 403);
    assert.equal((await put({ verifierTypes: ["bank"], environment: "test" })).status, 400);
    assert.equal((await requestJson(`${ts.httpsUrl}/v1/admin/relying-parties/nobody/verifier`, "PUT", { verifierTypes: ["signing"], environment: "test" }, ts.tls("admin"), { authorization: `Bearer ${operator}` })).status, 404);
    const changed = await ts.service.db.knex("audit_log").where({ action: "relying-party.verifier.changed" }).count({ n: "*" }).first();
    assert.equal(Number(changed?.n), 2);
  });

  it("the auditor's disclosure report shows the consent and each answer (JSON and CSV)", async () => {
    const auditor = await ts.login("auditor");
    const r = await request(`${ts.httpsUrl}/v1/admin/disclosures/${RESIDENT}`, { tls: ts.tls("admin"), headers: { authorization: `Bearer ${auditor}` } });
    assert.equal(r.status, 200);
    const sections = r.json<Json>().sections as Json[];
    const consents = sections.find((s) => s.name === "consents")!;
    assert.deepEqual(consents.items.map((i: Json) => [i.category, i.party]), [["consent-granted", "bank-h"]]);
    const provided = sections.find((s) => s.name === "relying-party-provisions")!;
    assert.deepEqual(provided.items.map((i: Json) => i.detail.query).sort(), ["current-serial-sign", "latest-four-items", "sign-auth-pair"]);
    // The links the answers followed are in the report too (docs/linkage.md), and each certificate's device.
    const linked = sections.find((s) => s.name === "certificate-links")!;
    assert.deepEqual(linked.items.map((i: Json) => [i.category, i.serial, i.detail.toSerial]), [["link-sign-auth", serials.S, serials.A]]);
    assert.deepEqual(new Set(r.json<Json>().certificates.map((c: Json) => c.device)), new Set(["card"]));
    const csv = await request(`${ts.httpsUrl}/v1/admin/disclosures/${RESIDENT}?format=csv`, { tls: ts.tls("admin"), headers: { authorization: `Bearer ${auditor}` } });
    assert.match(csv.body.toString("utf8"), /relying-party-provisions,[^,]+,relying-party-provision,[0-9a-f]+,bank-h,query=latest-four-items/);
  });
});
