import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { ConsentRegister, CONSENT_GRANT, CONSENT_WITHDRAWAL } from "../../../ca/consents/consent-register.js";
import { verifyHolderSignedRequest } from "../../../ca/holder/holder-signed-request.js";
import type { CertificateLink } from "../../../ca/linkage/certificate-links.js";
import { DisclosureService, disclosureCsv } from "../../../ca/records/disclosure.js";
import { QueryLimit } from "../../../ca/relying-parties/query-limit.js";
import { RelyingPartyQueries, defaultQuerySettings, type QueryAsker } from "../../../ca/relying-parties/relying-party-queries.js";
import { RelyingPartyRegistry } from "../../../ca/relying-parties/relying-party.js";
import type { QueryName, VerifierType } from "../../../ca/relying-parties/verifier-types.js";
import type { CaKind, CertificateDevice } from "../../../ca/types.js";
import { KnexAuditLogReader } from "../../../db/audit-log-reader.js";
import { KnexCertificateLinkStore } from "../../../db/certificate-link-store.js";
import { KnexConsentStore } from "../../../db/consent-store.js";
import { KnexHolderRequestStore } from "../../../db/holder-request-store.js";
import { relyingPartyDisclosureSources } from "../../../db/inquiry-disclosure-sources.js";
import { KnexInquirySource } from "../../../db/inquiry-store.js";
import { KnexProvisionStore, KnexSerialKnowledge } from "../../../db/provision-store.js";
import { KnexRelyingPartyStore } from "../../../db/relying-party-store.js";
import { KnexQueryWindowStore, KnexResidentFourItems } from "../../../db/relying-party-query-store.js";
import { fakeCaGeneration } from "../../support/ca-generation-fixture.js";
import { knexStores, openTestDatabase, requirePostgresUrl, type TestDatabase } from "../../support/database.js";
import { cardCertificate, signHolderRequest, type CardKeyPair } from "../../support/holder-signing.js";

/**
 * Relying-party queries, consents and provisions on real PostgreSQL (issue 16 items 3–4,
 * docs/relying-parties.md): certificates, links and resident records in their tables, consents signed
 * by `openssl cms -sign` with a card user-auth key and verified by ca/holder/holder-signed-request.ts,
 * OCSP reads in ocsp_access_log standing for "the party has seen this serial".
 */
describe("relying-party queries, consents and provisions (PostgreSQL)", function () {
  this.timeout(120_000);
  let t: TestDatabase;
  const clock = { at: new Date("2026-12-05T01:00:00Z"), now(): Date { return new Date(this.at.getTime()); } };
  const hex = (n: number): string => randomBytes(n).toString("hex");
  const serialOf = (kind: CaKind): string => `${kind === "sign" ? "01" : "41"}${hex(15)}`;
  const A = "11111111111";
  const B = "22222222222";
  const ids = {} as Record<"S1" | "S2" | "A1" | "A2" | "P1" | "PA1" | "T1" | "B1" | "X1", string>;
  let cardAuthA: CardKeyPair;
  let cardAuthB: CardKeyPair;
  let queries: RelyingPartyQueries;
  let consents: ConsentRegister;
  let stores: ReturnType<typeof knexStores>;
  let grantA: string;

  const makeQueries = (limit = 1000): RelyingPartyQueries =>
    new RelyingPartyQueries({
      parties: new KnexRelyingPartyStore(t.db),
      certificates: stores.certificates,
      links: new KnexCertificateLinkStore(t.db),
      consents: new KnexConsentStore(t.db),
      residents: new KnexResidentFourItems(t.db),
      knowledge: new KnexSerialKnowledge(t.db),
      provisions: new KnexProvisionStore(t.db),
      limit: new QueryLimit(new KnexQueryWindowStore(t.db), clock, { windowMs: 60_000, perParty: limit }),
      audit: stores.audit,
      transactions: t.db,
      clock,
      settings: defaultQuerySettings,
    });

  async function certificate(kind: CaKind, device: CertificateDevice, residentCode: string | null, card?: CardKeyPair): Promise<string> {
    const serial = card?.serial ?? serialOf(kind);
    await stores.certificates.insertPending({
      serial, caId: kind === "sign" ? "sign-g1" : "auth-g1", kind, device, notBefore: new Date("2026-01-01T00:00:00Z"), notAfter: new Date("2031-01-01T00:00:00Z"), partition: 1,
      tbs: Uint8Array.from([0x30, 0x00]), publicKeySha256: hex(32), subjectId: hex(8), residentCode, issuanceId: null, recorded: {}, createdAt: new Date(clock.at.getTime() - 86_400_000),
    });
    await stores.certificates.completeIssued(serial, card?.der ?? Uint8Array.from(randomBytes(40)));
    return serial;
  }
  const revoke = (serial: string, reason: "superseded" | "keyCompromise") => stores.certificates.revoke(serial, { status: "revoked", reason, revokedAt: clock.now(), invalidityDate: null });
  const link = (fromSerial: string, toSerial: string, l: CertificateLink["link"], residentCode: string): CertificateLink => ({ fromSerial, toSerial, link: l, residentCode, createdAt: clock.now() });
  const sawOcsp = (party: string, ...serials: string[]) => t.db.knex("ocsp_access_log").insert(serials.map((serial) => ({ at: clock.now(), party, serial, ca_id: null, answer: "good" })));
  const ask = (party: string | QueryAsker, query: QueryName, serial: string, q = queries) => q.ask(typeof party === "string" ? { partyId: party } : party, query, serial);
  const noAnswer = { kind: "not-found", message: "no answer for this serial", field: "serial" };
  const signed = (card: CardKeyPair, content: Record<string, unknown>) => new Uint8Array(Buffer.from(signHolderRequest(card, { signedAt: clock.now().toISOString(), ...content }), "base64"));
  const provisions = async (party: string) => (await t.db.knex("relying_party_provisions").where({ party_id: party }).orderBy("id")) as Array<Record<string, unknown>>;
  const denials = async (party: string) => (await new KnexAuditLogReader(t.db).range(1, 10_000)).filter((e) => e.action === "relying-party.query.denied" && e.actor === `relying-party:${party}`);

  before(async function () {
    requirePostgresUrl(this);
    t = await openTestDatabase("postgres");
    stores = knexStores(t.db);
    await stores.caGenerations.insert(fakeCaGeneration("sign", 1, clock.now(), { serialPrefix: 1 }));
    await stores.caGenerations.insert(fakeCaGeneration("auth", 1, clock.now(), { serialPrefix: 65 }));
    for (const [code, name] of [[A, "山田　太郎"], [B, "鈴木　花子"]] as const) {
      await t.db.knex("residents").insert({ resident_code: code, name, name_substitute_flags: "0".repeat([...name].length), date_of_birth: "1980-02-17", gender: 1, address: "東京都新宿区西新宿二丁目８番１号", address_substitute_flags: "0".repeat(16), created_at: clock.now(), updated_at: clock.now() });
    }
    // Resident A: card sign S1 → (renewal) S2, card auth A1 → A2 (the key that signs consents), phone sign P1 + auth PA1.
    cardAuthA = cardCertificate(serialOf("auth"), new Date("2026-01-01T00:00:00Z"), new Date("2031-01-01T00:00:00Z"));
    cardAuthB = cardCertificate(serialOf("auth"), new Date("2026-01-01T00:00:00Z"), new Date("2031-01-01T00:00:00Z"));
    ids.S1 = await certificate("sign", "card", A);
    ids.A1 = await certificate("auth", "card", A);
    ids.S2 = await certificate("sign", "card", A);
    ids.A2 = await certificate("auth", "card", A, cardAuthA);
    ids.P1 = await certificate("sign", "phone", A);
    ids.PA1 = await certificate("auth", "phone", A);
    await revoke(ids.S1, "superseded");
    await revoke(ids.A1, "superseded");
    // Resident B: signing T1 revoked (key compromise), no successor; auth B1 valid.
    ids.T1 = await certificate("sign", "card", B);
    ids.B1 = await certificate("auth", "card", B, cardAuthB);
    await revoke(ids.T1, "keyCompromise");
    ids.X1 = serialOf("sign"); // never issued
    const links = new KnexCertificateLinkStore(t.db);
    await t.db.transaction((tx) =>
      links.insertMany(
        [
          link(ids.S1, ids.S2, "successor", A), link(ids.A1, ids.A2, "successor", A),
          link(ids.S1, ids.A1, "sign-auth", A), link(ids.S2, ids.A2, "sign-auth", A), link(ids.P1, ids.PA1, "sign-auth", A),
          link(ids.S2, ids.P1, "card-phone", A), link(ids.A2, ids.PA1, "card-phone", A),
          link(ids.T1, ids.B1, "sign-auth", B),
        ],
        tx,
      ),
    );
    const registry = new RelyingPartyRegistry({ store: new KnexRelyingPartyStore(t.db), audit: stores.audit, transactions: t.db, clock, random: { bytes: (n) => new Uint8Array(randomBytes(n)) } });
    const parties: Array<[string, VerifierType[], "test" | "production", string | null]> = [
      ["bank", ["signing", "user-auth"], "production", null],
      ["signer", ["signing"], "production", null],
      ["authonly", ["user-auth"], "production", null],
      ["testbank", ["signing", "user-auth"], "test", null],
      ["platform", ["platform", "signing"], "production", null],
      ["shop", ["signing"], "production", "platform"],
      ["prober", ["signing"], "production", null],
    ];
    for (const [id, verifierTypes, environment, platformId] of parties) await registry.register("test", { id, name: id, verifierTypes, environment, platformId });
    await sawOcsp("bank", ids.S1, ids.A1, ids.T1);
    await sawOcsp("signer", ids.S1, ids.P1);
    await sawOcsp("authonly", ids.A1);
    await sawOcsp("testbank", ids.S1);
    await sawOcsp("platform", ids.S1);
    queries = makeQueries();
    const verifierDeps = { certificates: stores.certificates, audit: stores.audit, clock, signedAtToleranceMs: 300_000 };
    consents = new ConsentRegister({
      verify: (der, expected) => verifyHolderSignedRequest(verifierDeps, der, expected),
      requests: new KnexHolderRequestStore(t.db),
      consents: new KnexConsentStore(t.db),
      parties: new KnexRelyingPartyStore(t.db),
      audit: stores.audit,
      transactions: t.db,
      clock,
    });
  });
  after(async () => {
    await t?.close();
  });

  it("migration 0029: a registered party has its verifier types, environment and platform", async () => {
    const store = new KnexRelyingPartyStore(t.db);
    assert.deepEqual(await store.profile("shop"), { id: "shop", active: true, types: ["signing"], environment: "production", platformId: "platform" });
    assert.deepEqual((await store.profile("testbank"))?.environment, "test");
  });

  it("current serial: nothing without consent; with the resident's consent (signed with the card user-auth key) the newest serial, recorded", async () => {
    await assert.rejects(ask("bank", "current-serial-sign", ids.S1), noAnswer);
    grantA = signHolderRequest(cardAuthA, { purpose: CONSENT_GRANT, signedAt: clock.now().toISOString(), relyingParty: "bank", scope: ["current-serial-sign", "current-serial-auth", "latest-four-items"] });
    const consent = await consents.grant("holder-portal:portal-1", new Uint8Array(Buffer.from(grantA, "base64")));
    assert.equal(consent.residentCode, A);
    assert.equal(consent.grantedWith, ids.A2);
    const answer = await ask("bank", "current-serial-sign", ids.S1);
    assert.deepEqual({ ...answer, notAfter: undefined }, { query: "current-serial-sign", serial: ids.S1, currentSerial: ids.S2, status: "valid", notAfter: undefined });
    const auth = await ask("bank", "current-serial-auth", ids.A1);
    assert.equal(auth.query === "current-serial-auth" && auth.currentSerial, ids.A2);
    const rows = await provisions("bank");
    assert.deepEqual(rows.map((r) => [r.query, r.resident_code, r.asked_serial, r.answered_serials]), [["current-serial-sign", A, ids.S1, [ids.S2]], ["current-serial-auth", A, ids.A1, [ids.A2]]]);
    const audit = await new KnexAuditLogReader(t.db).range(1, 10_000);
    assert.ok(audit.some((e) => e.action === "consent.granted" && e.outcome === "success" && e.detail.relyingParty === "bank"));
    assert.ok((await denials("bank")).some((e) => e.detail.reason === "no-consent"), "the refusal is audited with its reason");
  });

  it("the same 404 for an unknown serial, one of another kind, one the party never saw, and no consent; each audited", async () => {
    const unknown = await ask("bank", "current-serial-sign", ids.X1).catch((e: unknown) => e);
    const wrongKind = await ask("bank", "current-serial-sign", ids.A1).catch((e: unknown) => e);
    const unseen = await ask("signer", "current-serial-sign", ids.T1).catch((e: unknown) => e);
    const noConsent = await ask("signer", "current-serial-sign", ids.S1).catch((e: unknown) => e);
    for (const e of [unknown, wrongKind, unseen, noConsent]) assert.deepEqual({ kind: (e as { kind: string }).kind, message: (e as Error).message, field: (e as { field: string }).field }, noAnswer);
    const reasons = [...(await denials("bank")), ...(await denials("signer"))].map((e) => e.detail.reason);
    for (const r of ["unknown-serial", "wrong-kind", "serial-not-known-to-party", "no-consent"]) assert.ok(reasons.includes(r), r);
  });

  it("each verifier type asks only its queries (403 otherwise), and a test party is refused by the production service", async () => {
    await assert.rejects(ask("authonly", "current-serial-sign", ids.A1), { kind: "forbidden", field: "query" });
    await assert.rejects(ask("authonly", "card-phone-pair", ids.P1), { kind: "forbidden" });
    await assert.rejects(ask("authonly", "latest-four-items", ids.S1), { kind: "forbidden" });
    await assert.rejects(ask("signer", "sign-auth-pair", ids.S1), { kind: "forbidden" });
    await assert.rejects(ask("signer", "current-serial-auth", ids.A1), { kind: "forbidden" });
    await assert.rejects(ask("authonly", "current-serial-auth", ids.A1), noAnswer); // allowed type, no consent
    await assert.rejects(ask("testbank", "sign-auth-pair", ids.S1), { kind: "forbidden", message: /production relying parties only/ });
  });

  it("card ↔ phone (第18条4項): a signing verifier learns the card signing serial of a phone signing certificate, without consent", async () => {
    assert.deepEqual(await ask("signer", "card-phone-pair", ids.P1), { query: "card-phone-pair", phoneSerial: ids.P1, cardSerial: ids.S2 });
    await assert.rejects(ask("signer", "card-phone-pair", ids.S1), noAnswer); // a card serial is not a phone one
    assert.equal((await provisions("signer")).at(-1)?.query, "card-phone-pair");
  });

  it("sign ↔ auth (第18条5項): only a party registered as both", async () => {
    assert.deepEqual(await ask("bank", "sign-auth-pair", ids.S1), { query: "sign-auth-pair", signSerial: ids.S1, authSerial: ids.A1 });
    assert.deepEqual(await ask("bank", "sign-auth-pair", ids.A1), { query: "sign-auth-pair", signSerial: ids.S1, authSerial: ids.A1 });
  });

  it("latest four items: the resident record and current signing serial with consent; nothing (409) while revoked with no successor", async () => {
    const answer = await ask("bank", "latest-four-items", ids.S1);
    assert.equal(answer.query, "latest-four-items");
    if (answer.query !== "latest-four-items") return;
    assert.equal(answer.currentSigningSerial, ids.S2);
    assert.deepEqual([answer.name, answer.dateOfBirth, answer.gender], ["山田　太郎", "1980-02-17", 1]);
    await assert.rejects(ask("bank", "latest-four-items", ids.T1), noAnswer); // B has not consented
    await consents.grant("holder-portal:portal-1", signed(cardAuthB, { purpose: CONSENT_GRANT, relyingParty: "bank", scope: ["latest-four-items"] }));
    const before = (await provisions("bank")).length;
    await assert.rejects(ask("bank", "latest-four-items", ids.T1), { kind: "conflict", field: "serial" });
    assert.equal((await provisions("bank")).length, before, "nothing provided, nothing recorded");
  });

  it("a platform operator asks for its service provider, under the provider's consent; the provision names both", async () => {
    const asker = { partyId: "platform", onBehalfOf: "shop" };
    await assert.rejects(ask(asker, "current-serial-sign", ids.S1), noAnswer);
    await consents.grant("holder-portal:portal-1", signed(cardAuthA, { purpose: CONSENT_GRANT, relyingParty: "shop", scope: ["current-serial-sign"] }));
    assert.equal((await ask(asker, "current-serial-sign", ids.S1)).query, "current-serial-sign");
    await assert.rejects(ask("platform", "current-serial-sign", ids.S1), noAnswer); // its own name: no consent
    await assert.rejects(ask({ partyId: "bank", onBehalfOf: "shop" }, "current-serial-sign", ids.S1), { kind: "forbidden", field: "onBehalfOf" });
    const row = (await provisions("platform")).at(-1)!;
    assert.equal(row.on_behalf_of, "shop");
  });

  it("withdrawal takes effect at the next query; a replayed grant is refused (409), a withdrawal sent as a grant too (422)", async () => {
    await assert.rejects(consents.grant("holder-portal:portal-1", new Uint8Array(Buffer.from(grantA, "base64"))), { kind: "conflict", field: "signedRequest" });
    await assert.rejects(consents.grant("holder-portal:portal-1", signed(cardAuthA, { purpose: CONSENT_WITHDRAWAL, relyingParty: "bank" })), { kind: "unprocessable", field: "signedRequest" });
    await consents.withdraw("holder-portal:portal-1", signed(cardAuthA, { purpose: CONSENT_WITHDRAWAL, relyingParty: "bank" }));
    await assert.rejects(ask("bank", "current-serial-sign", ids.S1), noAnswer);
    clock.at = new Date(clock.at.getTime() + 2000); // a new request, not the same one again
    await assert.rejects(consents.withdraw("holder-portal:portal-1", signed(cardAuthA, { purpose: CONSENT_WITHDRAWAL, relyingParty: "bank" })), { kind: "not-found" });
    const audit = await new KnexAuditLogReader(t.db).range(1, 10_000);
    assert.ok(audit.some((e) => e.action === "consent.withdrawn" && e.detail.relyingParty === "bank"));
  });

  it("the per-party limit holds across nodes sharing the database: the query past it is 429, audited once", async () => {
    const nodeA = makeQueries(5);
    const nodeB = makeQueries(5);
    for (let i = 0; i < 5; i++) await assert.rejects(ask("prober", "current-serial-sign", serialOf("sign"), i % 2 === 0 ? nodeA : nodeB), noAnswer);
    await assert.rejects(ask("prober", "current-serial-sign", ids.S1, nodeB), (e: unknown) => (e as { kind: string }).kind === "rate-limited" && (e as { retryAfterSeconds: number }).retryAfterSeconds >= 1);
    await assert.rejects(ask("prober", "current-serial-sign", ids.S1, nodeA), { kind: "rate-limited" });
    assert.equal((await denials("prober")).filter((e) => e.detail.kind === "rate-limited").length, 1);
    clock.at = new Date(clock.at.getTime() + 60_000); // the next window
    await assert.rejects(ask("prober", "current-serial-sign", ids.S1, nodeA), noAnswer);
  });

  it("the disclosure report lists the consents and every provision (JSON and CSV)", async () => {
    const report = await new DisclosureService({ certificates: new KnexInquirySource(t.db), sources: relyingPartyDisclosureSources(t.db), audit: stores.audit, clock }).report("cli", A);
    const section = (name: string) => report.sections.find((s) => s.name === name)!;
    const consentItems = section("consents").items;
    assert.deepEqual(consentItems.map((i) => [i.category, i.party]).sort(), [["consent-granted", "bank"], ["consent-granted", "shop"], ["consent-withdrawn", "bank"]]);
    const provided = section("relying-party-provisions").items;
    const expected = (await t.db.knex("relying_party_provisions").where({ resident_code: A })).length;
    assert.equal(provided.length, expected);
    assert.ok(provided.some((i) => i.party === "signer" && i.detail.query === "card-phone-pair" && i.serial === ids.P1 && i.detail.answered === ids.S2));
    assert.ok(provided.some((i) => i.party === "platform" && i.detail.onBehalfOf === "shop"));
    const csv = disclosureCsv(report);
    assert.match(csv, new RegExp(`relying-party-provisions,[^,]+,relying-party-provision,${ids.S1},bank,`));
    assert.match(csv, /consents,[^,]+,consent-withdrawn,/);
  });
});
