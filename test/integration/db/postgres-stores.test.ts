import assert from "node:assert/strict";
import { verifyChain } from "../../../ca/audit/audit-chain.js";
import { openDatabase } from "../../../db/database.js";
import { sqlDatabaseContract } from "../../contract/sql-database.js";
import { storesContract } from "../../contract/stores.js";
import { issuanceStoresContract } from "../../contract/issuance-stores.js";
import { KnexIssuanceStore, KnexResidentStore } from "../../../db/issuance-store.js";
import { KnexOutboxStore } from "../../../db/outbox-store.js";
import { knexStores, openTestDatabase, requirePostgresUrl, type TestDatabase } from "../../support/database.js";

/** The knex stores on a real PostgreSQL: a fresh database per suite on DATABASE_URL's server. */
describe("PostgreSQL", function () {
  this.timeout(120_000);
  before(function () {
    requirePostgresUrl(this);
  });

  storesContract("PostgreSQL", async () => {
    const t = await openTestDatabase("postgres");
    return { transactions: t.db, ...knexStores(t.db), close: () => t.close() };
  });

  issuanceStoresContract("PostgreSQL", async () => {
    const t = await openTestDatabase("postgres");
    const { caGenerations, certificates } = knexStores(t.db);
    return { transactions: t.db, caGenerations, certificates, issuances: new KnexIssuanceStore(t.db), residents: new KnexResidentStore(t.db), outbox: new KnexOutboxStore(t.db), close: () => t.close() };
  });

  sqlDatabaseContract("PostgreSQL", () => openTestDatabase("postgres"));

  it("finds an issuance's certificates through an index, not a scan of the table (reconciler, retries)", async () => {
    const t = await openTestDatabase("postgres");
    try {
      await t.db.transaction(async (tx) => {
        const k = t.db.executor(tx);
        await k.raw("set local enable_seqscan = off");
        const plan = (await k.raw("explain select * from certificates where issuance_id = 'x' order by serial")) as { rows: Array<{ "QUERY PLAN": string }> };
        const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
        assert.match(text, /certificates_issuance_id_idx/, text);
      });
    } finally {
      await t.close();
    }
  });

  describe("audit chain across processes", () => {
    let t: TestDatabase;
    before(async () => {
      t = await openTestDatabase("postgres");
    });
    after(async () => {
      await t?.close();
    });

    it("stays one chain when separate pools (as separate processes would) append concurrently", async () => {
      const other = await openDatabase({ url: t.url!, poolMax: 5 });
      try {
        const a = knexStores(t.db).audit;
        const b = knexStores(other).audit;
        const entry = (who: string, i: number) => ({ at: new Date(), action: "test.concurrent", actor: who, subject: null, outcome: "success" as const, detail: { i } });
        await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).append(entry(i % 2 ? "a" : "b", i))));
        const all = await a.range(1, 1000);
        assert.equal(all.length, 40);
        assert.deepEqual(all.map((e) => e.seq), Array.from({ length: 40 }, (_, i) => i + 1));
        assert.equal(verifyChain(all).ok, true);
      } finally {
        await other.close();
      }
    });
  });
});
