import { storesContract } from "../../contract/stores.js";
import { createMemoryStores } from "../../support/memory-stores.js";

storesContract("memory stores", async () => {
  const s = createMemoryStores();
  return { transactions: s.db, caGenerations: s.caGenerations, certificates: s.certificates, audit: s.audit, close: async () => {} };
});
