import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { FixedClock } from "../../../ca/ports.js";
import { promEventMetrics } from "../../../events/event-metrics.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase } from "../../support/database.js";
import { event, residentCode, T0, wire } from "../../support/resident-event-fixtures.js";
import { eventProcessor, seedCaGenerations, seedResidents } from "../../support/resident-event-seed.js";

const RESIDENTS = 5000; // 10,000 certificates

/**
 * A faulty feed (every resident dead, within a minute) meets the default safety valve: more than
 * 5,000 revocations in 10 minutes halts it; the rest is stored, not applied, until a ca-operator resumes.
 */
describe("the rate breaker against a feed that would revoke 10,000 certificates in a minute (PostgreSQL)", function () {
  this.timeout(60_000);
  let t: TestDatabase;

  before(async function () {
    requirePostgresUrl(this);
    t = await openTestDatabase("postgres");
    await seedCaGenerations(t.db);
    await seedResidents(t.db, 1, RESIDENTS);
  });
  after(async function () {
    await t?.close();
  });

  it("halts at 5,000 revocations with the default limits, raises the alarm, keeps everything, resumes on a ca-operator's word", async function () {
    const clock = new FixedClock(T0);
    const registry = new Registry();
    const processor = eventProcessor(t.db, clock, {}, promEventMetrics(registry));
    const events = Array.from({ length: RESIDENTS }, (_, i) => wire(event("DECEASED", {}, { eventId: `death-${i}`, residentCode: residentCode(1 + i) })));
    const outcomes: string[] = [];
    for (let i = 0; i < events.length; i += 1000) {
      clock.advance(10_000); // 5 batches of 1,000 within a minute
      const results = await processor.process(events.slice(i, i + 1000).map((json) => ({ raw: { json } })), "http");
      outcomes.push(...results.map((r) => r.outcome));
    }
    assert.equal(outcomes.filter((o) => o === "applied").length, 2500, "2,500 deaths × 2 certificates = 5,000: the limit, not more");
    assert.equal(outcomes.filter((o) => o === "deferred").length, 2500);
    const revoked = Number(((await t.db.knex("certificates").where({ status: "revoked" }).count({ n: "*" }).first()) as { n: unknown }).n);
    assert.equal(revoked, 5000);
    const status = await processor.status();
    assert.equal(status.valve.halted, true);
    assert.deepEqual(status.events, { applied: 2500, rejected: 0, deferred: 2500 });
    const alarm = (await t.db.knex("audit_log").where({ action: "events.safety-valve.tripped" }).first()) as { outcome: string; detail: Record<string, unknown> };
    assert.equal(alarm.outcome, "failure");
    assert.deepEqual([alarm.detail.limit, alarm.detail.inWindow, alarm.detail.wouldRevoke], [5000, 5000, 2]);
    const metrics = await registry.metrics();
    assert.match(metrics, /ca_event_safety_valve_halted 1/);
    assert.match(metrics, /ca_event_safety_valve_alarms_total\{reason="rate-breaker"\} 1/);
    assert.match(metrics, /ca_resident_events_total\{transport="http",outcome="deferred"\} 2500/);

    // ten minutes later the window is empty, but the valve stays halted: only an operator resumes
    clock.advance(11 * 60_000);
    assert.equal((await processor.process([{ raw: { json: wire(event("DECEASED", {}, { residentCode: residentCode(1) })) } }], "http"))[0]!.outcome, "deferred");

    const report = await processor.resume("operator:ops1");
    assert.equal(report.resumed, true);
    assert.equal(report.applied, 2501);
    assert.equal(report.revoked, 5000);
    assert.equal(Number(((await t.db.knex("certificates").where({ status: "valid" }).count({ n: "*" }).first()) as { n: unknown }).n), 0);
    assert.match(await registry.metrics(), /ca_event_safety_valve_halted 0/);
  });
});
