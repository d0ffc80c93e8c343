import assert from "node:assert/strict";
import { RelyingPartyRegistry } from "../../../ca/relying-parties/relying-party.js";
import { FixedClock } from "../../../ca/ports.js";
import { KnexRelyingPartyStore } from "../../../db/relying-party-store.js";
import { KnexAuditStore } from "../../../db/audit-store.js";
import { openTestDatabase, type TestDatabase } from "../../support/database.js";
import { randomBytes } from "node:crypto";
import { relyingPartyAdd } from "../../../cli/relying-party-commands.js";
import { CaError } from "../../../ca/errors.js";

describe("RelyingPartyRegistry on PGlite", function () {
  let t: TestDatabase;
  let registry: RelyingPartyRegistry;
  let store: KnexRelyingPartyStore;
  before(async function () {
    t = await openTestDatabase("pglite");
    store = new KnexRelyingPartyStore(t.db);
    registry = new RelyingPartyRegistry({
      store,
      audit: new KnexAuditStore(t.db),
      transactions: t.db,
      clock: new FixedClock(new Date("2026-11-22T01:00:00Z")),
      random: { bytes: (n) => new Uint8Array(randomBytes(n)) },
    });
  });
  after(async function () {
    await t.close();
  });

  it("shows the API key once, stores only its hash, and recognises it until deactivated", async function () {
    const { party, apiKey } = await registry.register("cli", { id: "kiosk-1", name: "kiosk" });
    assert.equal(party.id, "kiosk-1");
    const row = await t.db.knex("relying_parties").where({ id: "kiosk-1" }).first();
    assert.ok(!JSON.stringify(row).includes(apiKey), "the API key itself is not stored");
    assert.equal((await registry.byApiKey(apiKey))?.id, "kiosk-1");
    assert.equal((await registry.byCertificateId("kiosk-1"))?.id, "kiosk-1");
    assert.equal(await registry.byApiKey(apiKey.slice(0, -1) + (apiKey.endsWith("A") ? "B" : "A")), undefined);
    await registry.deactivate("cli", "kiosk-1");
    assert.equal(await registry.byApiKey(apiKey), undefined);
    assert.equal(await registry.byCertificateId("kiosk-1"), undefined);
  });

  it("refuses a duplicate id and a malformed one, naming the field", async function () {
    await registry.register("cli", { id: "rp-2", name: "two" });
    await assert.rejects(registry.register("cli", { id: "rp-2", name: "again" }), { kind: "conflict" });
    await assert.rejects(registry.register("cli", { id: "bad id!", name: "x" }), { kind: "invalid-input", field: "id" });
  });

  it("cli relying-party add takes verifier types and an environment, refuses unknown ones naming the option", async function () {
    const printed: string[] = [];
    assert.equal(await relyingPartyAdd({ relyingParties: registry }, ["bank-t", "--name", "bank", "--verifier-types", "signing,platform", "--environment", "test"], (l) => printed.push(l)), 0);
    assert.match(printed.join("\n"), /API key \(shown once/);
    const row = await store.get("bank-t");
    assert.deepEqual([row?.verifierTypes, row?.environment], [["signing", "platform"], "test"]);
    assert.equal(await relyingPartyAdd({ relyingParties: registry }, ["kiosk-d"], () => undefined), 0);
    const defaults = await store.get("kiosk-d");
    assert.deepEqual([defaults?.verifierTypes, defaults?.environment], [["signing", "user-auth"], "production"], "docs/relying-parties.md defaults");
    await assert.rejects(relyingPartyAdd({ relyingParties: registry }, ["x1", "--verifier-types", "bank"]), (e) => e instanceof CaError && e.field === "verifier-types");
    await assert.rejects(relyingPartyAdd({ relyingParties: registry }, ["x2", "--environment", "staging"]), (e) => e instanceof CaError && e.field === "environment");
    assert.equal(await store.get("x1"), undefined);
  });
});
