import assert from "node:assert/strict";
import { knexDashboardSource } from "../../db/dashboard-source.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase, type TestEngine } from "../support/database.js";
import { seedCaGenerations, seedResidents, signSerial } from "../support/resident-event-seed.js";

/**
 * The console dashboard's queries (db/dashboard-source.ts `knexDashboardSource`) on both engines:
 * per-JST-day counts across the UTC date line, CRL freshness with an overdue partition, the feed's state.
 * The route and its role check are exercised through the browser (console.test.ts) and test/security/matrix.test.ts.
 */
for (const engine of ["pglite", "postgres"] as TestEngine[]) {
  describe(`console dashboard figures (${engine})`, function () {
    let t: TestDatabase;
    // 2026-12-05 20:00 UTC is 2026-12-06 05:00 JST: "today" in JST is the 6th.
    const now = new Date("2026-12-05T20:00:00Z");

    before(async function () {
      if (engine === "postgres") requirePostgresUrl(this);
      t = await openTestDatabase(engine);
      await seedCaGenerations(t.db);
      // Two residents created 2026-12-05 16:00 UTC (JST 6th, 01:00), one 2026-12-05 14:00 UTC (JST 5th, 23:00).
      await seedResidents(t.db, 1, 2, { createdAt: new Date("2026-12-05T16:00:00Z") });
      await seedResidents(t.db, 3, 1, { createdAt: new Date("2026-12-05T14:00:00Z") });
      // Outside the window: 10 days before.
      await seedResidents(t.db, 4, 1, { createdAt: new Date("2026-11-25T00:00:00Z") });
      await t.db.knex("certificates").whereIn("serial", [signSerial(1)]).update({ status: "revoked", revocation_reason: "keyCompromise", revoked_at: new Date("2026-12-05T18:00:00Z") });
      await t.db.knex("crl_partitions").insert([0, 1].map((partition) => ({ ca_id: "auth-g1", partition })));
      const crl = (partition: number, nextUpdate: string) => ({ ca_id: "auth-g1", partition, kind: "full", crl_number: 1, base_number: null, this_update: new Date("2026-12-05T00:00:00Z"), next_update: new Date(nextUpdate), as_of: new Date("2026-12-05T00:00:00Z"), entries: 0, etag: `e${partition}`, size: 2, der: Buffer.from([0x30, 0x00]) });
      await t.db.knex("crls").insert([crl(0, "2026-12-06T00:00:00Z"), crl(1, "2026-12-05T12:00:00Z")]);
    });
    after(async () => t?.close());

    // Plans on PostgreSQL only (PGlite runs the same SQL).
    if (engine === "postgres") it("counts per day through indexes, never a scan of certificates (200 M rows at national size)", async function () {
      const plans = await t.db.knex.transaction(async (trx) => {
        await trx.raw("set local enable_seqscan = off");
        const plan = async (column: string, extra: string) =>
          JSON.stringify(((await trx.raw(`explain (format json) select count(*) from certificates where ${column} >= ? ${extra}`, [now])) as { rows: unknown[] }).rows);
        return [await plan("created_at", "and status in ('valid', 'revoked', 'hold')"), await plan("revoked_at", "")];
      });
      for (const p of plans) assert.ok(!p.includes("Seq Scan"), p);
      assert.ok(plans[1]!.includes("certificates_revoked_at_idx"), plans[1]);
    });

    it("counts issued and revoked certificates per JST day, oldest first, zero-filled", async () => {
      const figures = await knexDashboardSource(() => t.db.knex).figures(now, 3);
      assert.deepEqual(figures.days, [
        { day: "2026-12-04", issued: 0, revoked: 0 },
        { day: "2026-12-05", issued: 2, revoked: 0 },
        { day: "2026-12-06", issued: 4, revoked: 1 },
      ]);
    });

    it("reports generations, CRL freshness with the overdue partition, OCSP and the feed", async () => {
      const figures = await knexDashboardSource(() => t.db.knex).figures(now, 14);
      assert.deepEqual(
        figures.generations.map((g) => g.caId),
        ["auth-g1", "sign-g1"],
      );
      const auth = figures.crl.find((c) => c.caId === "auth-g1")!;
      assert.equal(auth.partitions, 16);
      assert.equal(auth.withCrl, 2);
      assert.deepEqual(auth.overdue, [1]);
      assert.equal(auth.earliestNextUpdate, "2026-12-05T12:00:00.000Z");
      assert.equal(figures.crl.find((c) => c.caId === "sign-g1")!.withCrl, 0);
      assert.equal(figures.ocsp.oldestThisUpdate, null);
      assert.equal(figures.ocsp.answersLastMinute, 0);
      // Answers to registered parties: two in the minute before `now`, one older, one after it.
      const answer = (msBefore: number) => ({ at: new Date(now.getTime() - msBefore), party: "bank-1", serial: signSerial(2), ca_id: "sign-g1", answer: "good" });
      await t.db.knex("ocsp_access_log").insert([answer(1_000), answer(59_000), answer(61_000), answer(-5_000)]);
      assert.equal((await knexDashboardSource(() => t.db.knex).figures(now, 14)).ocsp.answersLastMinute, 2);
      assert.deepEqual(figures.feed, { lastReceivedAt: null, halted: false, haltedAt: null, haltReason: null, resumedAt: null, deferred: 0, rejected: 0 });
      assert.equal(figures.days.reduce((n, d) => n + d.issued, 0), 8, "the resident of 11-25 is inside 14 days");
    });
  });
}
