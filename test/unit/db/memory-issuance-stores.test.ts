import { issuanceStoresContract } from "../../contract/issuance-stores.js";
import { MemoryIssuanceStore, MemoryOutboxReader, MemoryResidentStore } from "../../support/memory-issuance-stores.js";
import { createMemoryStores } from "../../support/memory-stores.js";

// The doubles the issuance service's unit test runs on (test/unit/ca/issuance/issuance-service.test.ts)
// keep the promises of the knex stores: the same suite as PGlite and PostgreSQL.
issuanceStoresContract("memory issuance stores", async () => {
  const s = createMemoryStores();
  return {
    transactions: s.db,
    caGenerations: s.caGenerations,
    certificates: s.certificates,
    issuances: new MemoryIssuanceStore(s.db, s.certificates),
    residents: new MemoryResidentStore(s.db),
    outbox: new MemoryOutboxReader(s.db),
    close: async () => {},
  };
});
