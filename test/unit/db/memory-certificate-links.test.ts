import { certificateLinksContract } from "../../contract/certificate-links.js";
import { MemoryCertificateLinkStore } from "../../support/memory-certificate-links.js";
import { MemoryIssuanceStore } from "../../support/memory-issuance-stores.js";
import { createMemoryStores } from "../../support/memory-stores.js";

// The memory doubles of the linkage graph keep the promises of the knex stores (docs/linkage.md).
certificateLinksContract("memory stores", async () => {
  const s = createMemoryStores();
  return {
    transactions: s.db,
    caGenerations: s.caGenerations,
    certificates: s.certificates,
    issuances: new MemoryIssuanceStore(s.db, s.certificates),
    links: new MemoryCertificateLinkStore(s.db),
    close: async () => {},
  };
});
