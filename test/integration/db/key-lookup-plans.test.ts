import assert from "node:assert/strict";
import { migrateLatest } from "../../../db/migrate.js";
import { migrations } from "../../../db/migrations/index.js";
import { keyLookupPlansMigration } from "../../../db/migrations/0025-key-lookup-plans.js";
import { openTestDatabase, type TestDatabase } from "../../support/database.js";

/**
 * Migration 0025: the key-reuse trigger's lookups never plan a sequential scan of certificates, even on
 * a table that was never analyzed (where the planner would otherwise choose one and keep it for a whole
 * bulk insert: docs/scale.md, "Seeding speed"). The lookups are planned under the function's own
 * settings (pg_proc.proconfig), on a freshly migrated database, as PL/pgSQL keeps them: one generic plan.
 */
describe("migration 0025-key-lookup-plans (PostgreSQL)", function () {
  this.timeout(60_000);
  let t: TestDatabase;
  before(async () => {
    t = await openTestDatabase("postgres", { migrate: false });
    await migrateLatest(t.db, migrations.slice(0, migrations.indexOf(keyLookupPlansMigration)));
  });
  after(async () => {
    await t?.close();
  });

  const lookups = [
    "select 1 from blocked_keys where key_sha256 = $1",
    "select 1 from certificates where public_key_sha256 = $1 and status = 'revoked'",
  ];

  async function plans(settings: readonly string[]): Promise<string[]> {
    return t.db.knex.transaction(async (trx) => {
      for (const s of settings) {
        const at = s.indexOf("=");
        await trx.raw(`select set_config(?, ?, true)`, [s.slice(0, at), s.slice(at + 1)]);
      }
      // As PL/pgSQL keeps it: one generic plan, made now (the table empty and never analyzed).
      await trx.raw("set local plan_cache_mode = force_generic_plan");
      const out: string[] = [];
      for (const [i, sql] of lookups.entries()) {
        await trx.raw(`prepare key_lookup_${i} (text) as ${sql}`);
        const { rows } = (await trx.raw(`explain (format json) execute key_lookup_${i}('${"00".repeat(32)}')`)) as { rows: Array<{ "QUERY PLAN": Array<{ Plan: Record<string, unknown> }> }> };
        await trx.raw(`deallocate key_lookup_${i}`);
        const nodes: string[] = [];
        const walk = (p: Record<string, unknown>): void => {
          nodes.push(`${String(p["Node Type"])} on ${String(p["Relation Name"] ?? "-")} using ${String(p["Index Name"] ?? "-")}`);
          for (const c of (p.Plans as Array<Record<string, unknown>> | undefined) ?? []) walk(c);
        };
        walk(rows[0]!["QUERY PLAN"][0]!.Plan);
        out.push(nodes.join(" > "));
      }
      return out;
    });
  }

  it("the trigger's lookups read their own indexes on a never-analyzed table, not every revoked row", async () => {
    const before = await plans([]);
    assert.match(before[1]!, /Seq Scan on certificates|using certificates_status_created_at_idx/, `before 0025 the lookup reads every revoked row: ${before.join(" | ")}`);
    await migrateLatest(t.db);
    const { rows } = (await t.db.knex.raw("select proconfig from pg_proc where proname = 'certificates_refuse_used_key'")) as { rows: Array<{ proconfig: string[] | null }> };
    const config = rows[0]?.proconfig ?? [];
    assert.ok(config.includes("enable_seqscan=off"), `proconfig: ${JSON.stringify(config)}`);
    const analyzed = (await t.db.knex.raw("select coalesce(max(last_analyze), max(last_autoanalyze)) as at from pg_stat_user_tables where relname = 'certificates'")) as { rows: Array<{ at: Date | null }> };
    assert.equal(analyzed.rows[0]?.at, null, "certificates was never analyzed");
    const under = await plans(config);
    assert.match(under[0]!, /Index Only Scan on blocked_keys using blocked_keys_pkey/);
    assert.match(under[1]!, /Index Only Scan on certificates using certificates_revoked_public_key_idx/);
  });
});
