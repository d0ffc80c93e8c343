import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { OperatorAuth } from "../../../ca/operators/operator-auth.js";
import { ScryptPasswordHasher } from "../../../ca/operators/password-hash.js";
import { FixedClock, type Random } from "../../../ca/ports.js";
import { KnexAuditStore } from "../../../db/audit-store.js";
import type { Database } from "../../../db/database.js";
import { KnexOperatorSessionStore } from "../../../db/operator-session-store.js";
import { KnexOperatorStore } from "../../../db/operator-store.js";
import { KnexTerminalStore } from "../../../db/terminal-store.js";
import { operatorStoresContract } from "../../contract/operator-stores.js";
import { openTestDatabase, type TestDatabase } from "../../support/database.js";

/** The knex operator stores on embedded PGlite, and lockout surviving a restart of the database. */
describe("PGlite operator stores", function () {
  this.timeout(120_000);
  let shared: TestDatabase | undefined;
  after(async () => {
    await shared?.close();
  });

  operatorStoresContract("PGlite", async () => {
    shared ??= await openTestDatabase("pglite");
    return { ...knexOperatorStores(shared.db), close: async () => {} };
  });

  it("keeps a lockout across a restart (a new service over the same data directory)", async () => {
    const dir = `var/test/pglite-lockout-${randomBytes(4).toString("hex")}`;
    const random: Random = { bytes: (n) => new Uint8Array(randomBytes(n)) };
    const clock = new FixedClock(new Date("2026-11-24T01:00:00Z"));
    const authOver = (db: Database) =>
      new OperatorAuth({ ...knexOperatorStores(db), audit: new KnexAuditStore(db), clock, random, passwords: new ScryptPasswordHasher(random, { N: 1024, r: 8, p: 1 }) });
    const terminal = { id: "t1", fingerprint: "ab".repeat(32) };
    try {
      const first = await openTestDatabase("pglite", { dataDir: dir });
      const auth = authOver(first.db);
      await auth.addOperator("cli", { operatorId: "tanaka", roles: ["terminal-operator"], password: "Ky0to-Hanami-Pr1ze", ready: true });
      for (let i = 0; i < 3; i++) await assert.rejects(auth.login({ operatorId: "tanaka", password: "wrong password", terminal }));
      await first.close();
      const second = await openTestDatabase("pglite", { dataDir: dir });
      try {
        await assert.rejects(authOver(second.db).login({ operatorId: "tanaka", password: "Ky0to-Hanami-Pr1ze", terminal }), (e: Error & { kind?: string }) => e.kind === "unauthenticated"); // issue 12: a lock answers like a wrong password
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function knexOperatorStores(db: Database) {
  return { transactions: db, operators: new KnexOperatorStore(db), sessions: new KnexOperatorSessionStore(db), terminals: new KnexTerminalStore(db) };
}
