import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { verifyChain } from "../../../ca/audit/audit-chain.js";
import { migrateLatest } from "../../../db/migrate.js";
import { sqlDatabaseContract } from "../../contract/sql-database.js";
import { storesContract } from "../../contract/stores.js";
import { issuanceStoresContract } from "../../contract/issuance-stores.js";
import { KnexIssuanceStore, KnexResidentStore } from "../../../db/issuance-store.js";
import { KnexOutboxStore } from "../../../db/outbox-store.js";
import { knexStores, openTestDatabase, type TestDatabase } from "../../support/database.js";

/**
 * The knex stores on embedded PGlite. One in-memory instance serves both suites (PGlite takes seconds
 * to start); its single connection also proves no store touches the root knex inside a transaction.
 */
describe("PGlite", function () {
  this.timeout(120_000);
  let shared: TestDatabase | undefined;
  const openShared = async (): Promise<TestDatabase> => (shared ??= await openTestDatabase("pglite"));
  after(async () => {
    await shared?.close();
  });

  storesContract("PGlite", async () => {
    const { db } = await openShared();
    return { transactions: db, ...knexStores(db), close: async () => {} };
  });

  issuanceStoresContract("PGlite", async () => {
    const { db } = await openShared();
    const { caGenerations, certificates } = knexStores(db);
    return { transactions: db, caGenerations, certificates, issuances: new KnexIssuanceStore(db), residents: new KnexResidentStore(db), outbox: new KnexOutboxStore(db), close: async () => {} };
  });

  sqlDatabaseContract("PGlite", async () => {
    const { db } = await openShared();
    return { db, close: async () => {} };
  });

  it("keeps its data in a directory across restarts", async () => {
    const dir = `var/test/pglite-${randomBytes(4).toString("hex")}`;
    try {
      const first = await openTestDatabase("pglite", { dataDir: dir });
      const e = await knexStores(first.db).audit.append({ at: new Date(), action: "test.persist", actor: "system", subject: null, outcome: "success", detail: { k: 1 } });
      await first.close();
      const second = await openTestDatabase("pglite", { dataDir: dir, migrate: false });
      try {
        assert.deepEqual(await migrateLatest(second.db), []);
        const entries = await knexStores(second.db).audit.range(1, 10);
        assert.deepEqual(entries, [e]);
        assert.equal(verifyChain(entries).ok, true);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
