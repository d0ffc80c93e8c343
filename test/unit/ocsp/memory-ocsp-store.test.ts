import { ocspStoreContract } from "../../contract/ocsp-store.js";
import { MemoryOcspStore } from "./memory-ocsp-store.js";

ocspStoreContract("MemoryOcspStore", async () => {
  const store = new MemoryOcspStore();
  return {
    store,
    caId: "auth-g1",
    addCertificate: async (s) => store.setCertificate(s),
    accessLogOf: async (party) => store.accessLog.filter((r) => r.party === party),
    close: async () => undefined,
  };
});
