import { KnexOperatorSessionStore } from "../../../db/operator-session-store.js";
import { KnexOperatorStore } from "../../../db/operator-store.js";
import { KnexTerminalStore } from "../../../db/terminal-store.js";
import { operatorStoresContract } from "../../contract/operator-stores.js";
import { openTestDatabase, requirePostgresUrl } from "../../support/database.js";

/** The knex operator stores on a real PostgreSQL: a fresh database on DATABASE_URL's server. */
describe("PostgreSQL operator stores", function () {
  this.timeout(120_000);
  before(function () {
    requirePostgresUrl(this);
  });

  operatorStoresContract("PostgreSQL", async () => {
    const t = await openTestDatabase("postgres");
    const db = t.db;
    return { transactions: db, operators: new KnexOperatorStore(db), sessions: new KnexOperatorSessionStore(db), terminals: new KnexTerminalStore(db), close: () => t.close() };
  });
});
