import assert from "node:assert/strict";
import { verifyChain } from "../../ca/audit/audit-chain.js";
import { CaError } from "../../ca/errors.js";
import { KnexAuditStore } from "../../db/audit-store.js";
import type { Database } from "../../db/database.js";
import { migrateLatest, migrationStatus } from "../../db/migrate.js";
import { migrations } from "../../db/migrations/index.js";

/**
 * What only a SQL engine can show: migrations, the append-only trigger, type normalisation.
 * Run against PGlite and PostgreSQL with a migrated database.
 */
export function sqlDatabaseContract(name: string, open: () => Promise<{ db: Database; close(): Promise<void> }>): void {
  describe(`${name}: SQL database contract`, function () {
    this.timeout(120_000);
    let fx: { db: Database; close(): Promise<void> };
    before(async () => {
      fx = await open();
    });
    after(async () => {
      await fx?.close();
    });

    it("running the migrations again is a no-op", async () => {
      assert.deepEqual(await migrateLatest(fx.db), []);
      assert.deepEqual(await migrateLatest(fx.db), []);
      const status = await migrationStatus(fx.db);
      assert.deepEqual(status, { applied: migrations.map((m) => m.name), pending: [] });
    });

    it("answers ping", async () => {
      await fx.db.ping();
    });

    it("returns int8 as number, timestamptz as Date, jsonb parsed, on every engine", async () => {
      const { rows } = (await fx.db.knex.raw(
        `select 42::int8 as n, count(*) as c, '2026-11-22T05:00:00.123Z'::timestamptz as t, '{"b":[1]}'::jsonb as j`,
      )) as { rows: Array<Record<string, unknown>> };
      const row = rows[0]!;
      assert.equal(row.n, 42);
      assert.equal(row.c, 1);
      assert.deepEqual(row.t, new Date("2026-11-22T05:00:00.123Z"));
      assert.deepEqual(row.j, { b: [1] });
      const [outbox] = await fx.db.knex("outbox").insert({ topic: "test", payload: JSON.stringify([1, "a"]) }, ["id", "payload", "created_at"]);
      assert.equal(typeof outbox.id, "number");
      assert.deepEqual(outbox.payload, [1, "a"]);
      assert.ok(outbox.created_at instanceof Date);
      // Beyond 2^53 the query fails rather than rounding.
      await assert.rejects(fx.db.knex.raw("select 9007199254740993::int8 as n"), /int8/);
      await fx.db.ping(); // and the connection survives
    });

    it("refuses UPDATE, DELETE and TRUNCATE on audit_log unless ca.audit_purge is on", async () => {
      const audit = new KnexAuditStore(fx.db);
      const e = await audit.append({ at: new Date(), action: "test.append-only", actor: "system", subject: null, outcome: "success", detail: {} });
      await assert.rejects(fx.db.knex("audit_log").where({ seq: e.seq }).update({ actor: "intruder" }), /append-only/);
      await assert.rejects(fx.db.knex("audit_log").where({ seq: e.seq }).delete(), /append-only/);
      await assert.rejects(fx.db.knex.raw("truncate audit_log"), /append-only/);
      // With the setting, a purge is possible (rolled back here to keep the chain).
      await assert.rejects(
        fx.db.transaction(async (tx) => {
          const k = fx.db.executor(tx);
          await k.raw("set local ca.audit_purge = 'on'");
          const updated = await k("audit_log").where({ seq: e.seq }).update({ actor: "tamper" }, ["seq"]);
          assert.equal(updated.length, 1);
          const tampered = await audit.range(1, 1_000_000, tx);
          assert.deepEqual(verifyChain(tampered).ok ? "ok" : (verifyChain(tampered) as { seq: number }).seq, e.seq);
          const deleted = await k("audit_log").where({ seq: e.seq }).delete(["seq"]);
          assert.equal(deleted.length, 1);
          throw new Error("roll back");
        }),
        /roll back/,
      );
      const [kept] = await audit.range(e.seq, 1);
      assert.equal(kept?.actor, "system");
      // SET LOCAL ended with the transaction.
      await assert.rejects(fx.db.knex("audit_log").where({ seq: e.seq }).delete(), /append-only/);
    });

    it("refuses a tx that is not a transaction of this database", () => {
      assert.throws(() => fx.db.executor({}), (err: unknown) => err instanceof CaError && err.kind === "internal");
    });
  });
}
