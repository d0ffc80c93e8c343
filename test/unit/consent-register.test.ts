import assert from "node:assert/strict";
import { ConsentRegister, parseScope, type HolderRequestVerifier } from "../../ca/consents/consent-register.js";
import type { Consent, ConsentStore, NewConsent } from "../../ca/consents/consent.js";
import { CaError } from "../../ca/errors.js";
import type { HolderRequestEntry } from "../../ca/holder/holder-request-log.js";
import { parseRelyingPartyQueryConfig } from "../../ca/relying-parties/query-settings.js";
import { defaultQueryRules, mayAsk } from "../../ca/relying-parties/verifier-types.js";
import type { AuditEntryInput, CertificateRecord } from "../../ca/types.js";

/** The consent register and the query rules, on doubles at their ports (the PostgreSQL run: test/integration/relying-parties/). */
describe("consent register and query rules", () => {
  const now = new Date("2026-12-05T01:00:00Z");
  const clock = { now: () => now };
  const card = { serial: "41aa", residentCode: "12345678901", kind: "auth", device: "card" } as unknown as CertificateRecord;

  function world(initial: Record<string, unknown>, residentCode: string | null = card.residentCode) {
    const state = { content: initial };
    const consents: Consent[] = [];
    const audit: AuditEntryInput[] = [];
    const requests = new Set<string>();
    const expectations: unknown[] = [];
    const verify: HolderRequestVerifier = async (_der, expected) => {
      expectations.push(expected);
      return { content: { signedAt: now.toISOString(), ...state.content } as never, certificate: { ...card, residentCode } as CertificateRecord, digest: JSON.stringify(state.content) };
    };
    const store: ConsentStore = {
      open: async (r, p) => consents.find((c) => c.residentCode === r && c.partyId === p && c.withdrawnAt === null),
      insert: async (c: NewConsent) => {
        const full: Consent = { ...c, id: String(consents.length + 1), withdrawnAt: null, withdrawnWith: null };
        consents.push(full);
        return full;
      },
      close: async (r, p, at, w) => {
        const i = consents.findIndex((c) => c.residentCode === r && c.partyId === p && c.withdrawnAt === null);
        if (i < 0) return false;
        consents[i] = { ...consents[i]!, withdrawnAt: at, withdrawnWith: w };
        return true;
      },
      ofResident: async (r) => consents.filter((c) => c.residentCode === r),
    };
    const register = new ConsentRegister({
      verify,
      requests: { insert: async (e: HolderRequestEntry) => (requests.has(e.digest) ? false : (requests.add(e.digest), true)) },
      consents: store,
      parties: { profile: async (id) => (id === "bank" ? { id, active: true, types: ["signing"], environment: "production", platformId: null } : id === "gone" ? { id, active: false, types: ["signing"], environment: "production", platformId: null } : undefined) },
      audit: { append: async (e) => (audit.push(e), { ...e, seq: audit.length, prevHash: "", hash: "" }) },
      transactions: { transaction: (work) => work({}) },
      clock,
    });
    return { register, consents, audit, expectations, state };
  }
  const der = new Uint8Array([0x30]);

  it("asks the verifier for a card user-auth signature with the grant's purpose, and audits the grant", async () => {
    const w = world({ purpose: "consent-grant", relyingParty: "bank", scope: ["latest-four-items", "latest-four-items"] });
    const c = await w.register.grant("holder-portal:p1", der);
    assert.deepEqual(w.expectations, [{ purpose: "consent-grant", kind: "auth", device: "card", actor: "holder-portal:p1" }]);
    assert.deepEqual([c.residentCode, c.partyId, c.scope, c.grantedWith], ["12345678901", "bank", ["latest-four-items"], "41aa"]);
    assert.equal(w.audit.at(-1)?.action, "consent.granted");
  });

  it("a new grant replaces the open one; a withdrawal closes it; a second withdrawal is 404", async () => {
    const w = world({ purpose: "consent-grant", relyingParty: "bank", scope: ["current-serial-sign"] });
    await w.register.grant("p", der);
    w.state.content = { purpose: "consent-grant", relyingParty: "bank", scope: ["latest-four-items"] };
    await w.register.grant("p", der);
    assert.deepEqual(w.consents.map((c) => [c.scope, c.withdrawnAt !== null]), [[["current-serial-sign"], true], [["latest-four-items"], false]]);
    assert.equal(w.audit.at(-1)?.detail.replaced, true);
    w.state.content = { purpose: "consent-withdrawal", relyingParty: "bank" };
    await w.register.withdraw("p", der);
    assert.ok(w.consents.every((c) => c.withdrawnAt !== null));
    assert.equal(w.audit.at(-1)?.action, "consent.withdrawn");
    w.state.content = { purpose: "consent-withdrawal", relyingParty: "bank", again: 1 };
    await assert.rejects(w.register.withdraw("p", der), { kind: "not-found" });
    assert.equal(w.audit.at(-1)?.action, "holder.request.denied", "the refusal is audited");
  });

  it("refuses an unknown or inactive party, a scope outside the consentable queries, and a certificate of no resident", async () => {
    await assert.rejects(world({ relyingParty: "nobody", scope: ["latest-four-items"] }).register.grant("p", der), { kind: "unprocessable", field: "signedRequest.relyingParty" });
    await assert.rejects(world({ relyingParty: "gone", scope: ["latest-four-items"] }).register.grant("p", der), { kind: "unprocessable" });
    await assert.rejects(world({ relyingParty: "bank", scope: ["sign-auth-pair"] }).register.grant("p", der), { kind: "invalid-input", field: "signedRequest.scope" });
    await assert.rejects(world({ relyingParty: "bank", scope: ["latest-four-items"] }, null).register.grant("p", der), { kind: "unprocessable", field: "signedRequest" });
    assert.throws(() => parseScope([]), CaError);
    assert.deepEqual(parseScope(["current-serial-auth"]), ["current-serial-auth"]);
  });

  it("the default rules: who may ask what (docs/relying-parties.md)", () => {
    assert.ok(mayAsk(["signing"], "card-phone-pair"));
    assert.ok(mayAsk(["signing"], "latest-four-items"));
    assert.ok(!mayAsk(["signing"], "sign-auth-pair"));
    assert.ok(mayAsk(["signing", "user-auth"], "sign-auth-pair"));
    assert.ok(mayAsk(["user-auth"], "current-serial-auth"));
    assert.ok(!mayAsk(["user-auth"], "current-serial-sign"));
    assert.ok(!mayAsk(["platform"], "current-serial-sign"));
  });

  it("configuration: defaults, an override, and refusals naming the setting", () => {
    const d = parseRelyingPartyQueryConfig(undefined);
    assert.deepEqual([d.environment, d.requireKnownSerial, d.limit, d.rules], ["production", true, { windowMs: 60_000, perParty: 60 }, defaultQueryRules]);
    const c = parseRelyingPartyQueryConfig({ environment: "test", limit: { perParty: 5 }, rules: { "card-phone-pair": { requires: ["signing", "platform"], consent: false } } });
    assert.deepEqual([c.environment, c.limit.perParty, c.rules["card-phone-pair"].requires], ["test", 5, ["signing", "platform"]]);
    assert.throws(() => parseRelyingPartyQueryConfig({ environment: "staging" }), { field: "relyingPartyQueries.environment" });
    assert.throws(() => parseRelyingPartyQueryConfig({ rules: { "latest-four-items": { requires: ["signing"], consent: false } } }), { field: "relyingPartyQueries.rules.latest-four-items" });
    assert.throws(() => parseRelyingPartyQueryConfig({ rules: { "sign-auth-pair": { requires: ["bank"], consent: false } } }), { field: "relyingPartyQueries.rules.sign-auth-pair" });
    assert.throws(() => parseRelyingPartyQueryConfig({ limits: {} }), { field: "relyingPartyQueries.limits" });
  });
});
