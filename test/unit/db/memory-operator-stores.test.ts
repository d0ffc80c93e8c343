import { operatorStoresContract } from "../../contract/operator-stores.js";
import { createMemoryOperatorStores } from "../../support/memory-operator-stores.js";

operatorStoresContract("memory operator stores", async () => {
  const s = createMemoryOperatorStores();
  return { transactions: s.transactions, operators: s.operators, sessions: s.sessions, terminals: s.terminals, close: async () => {} };
});
