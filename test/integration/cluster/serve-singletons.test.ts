import assert from "node:assert/strict";
import { serve, type Serving } from "../../../api/main.js";
import { requirePostgresUrl } from "../../support/database.js";
import { startTestService, type TestService } from "../../support/service-harness.js";

/**
 * Two nodes served on one PostgreSQL (api/main.ts serve(), docs/cluster.md): every singleton job is
 * held by one of them (table job_leases), an anomaly is alerted once, not once per node, and when the
 * holding node stops, the other takes every job over and alerts the next anomaly, once.
 */
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const SINGLETONS = [
  "anomaly-monitor",
  "approval-expiry",
  "audit-checkpoint",
  "crl-coverage",
  "crl-scheduler",
  "issuance-reconciler",
  "ocsp-presigner",
  "ocsp-responder-renewal",
  "phone-reconciler",
];

describe("cluster: two served nodes on one database run each background job once", function () {
  this.timeout(120_000);
  let ts: TestService;
  let second: Serving | undefined;

  before(async function () {
    requirePostgresUrl(this);
    ts = await startTestService({ name: "two-nodes", engine: "postgres" });
    // A second node on the same database and token (its own listeners, handlers and lease keeper).
    second = await serve(ts.service);
  });

  after(async () => {
    await second?.close();
    await ts?.close();
  });

  const leases = async (): Promise<Array<{ job: string; holder: string; live: boolean }>> =>
    (await ts.service.db.knex.raw("select job, holder, expires_at > now() as live from job_leases order by job")).rows as Array<{ job: string; holder: string; live: boolean }>;

  const lockOut = async (operator: string): Promise<number> => {
    const entry = await ts.service.stores.audit.append({ at: new Date(), action: "operator.locked", actor: "system", subject: `operator:${operator}`, outcome: "success", detail: { failedAttempts: 5 } });
    return entry.seq;
  };

  const alertsFor = async (operator: string): Promise<number> => {
    const r = await ts.service.db.knex("audit_log").where({ action: "anomaly.detected", subject: `operator:${operator}` }).count<Array<{ count: string }>>("* as count");
    return Number(r[0]!.count);
  };

  /** Waits for the first alert (the monitor polls every 5 s), then one more poll period of every node for a second one. */
  const settledAlertsFor = async (operator: string): Promise<number> => {
    const start = Date.now();
    while ((await alertsFor(operator)) === 0 && Date.now() - start < 15_000) await sleep(200);
    await sleep(6_000);
    return alertsFor(operator);
  };

  it("every singleton job is held by exactly one node, the first one served", async () => {
    let rows = await leases();
    for (let i = 0; i < 50 && rows.length < SINGLETONS.length; i++) {
      await sleep(100);
      rows = await leases();
    }
    assert.deepEqual(rows.map((r) => r.job), SINGLETONS);
    assert.ok(rows.every((r) => r.live));
    const holders = new Set(rows.map((r) => r.holder));
    assert.equal(holders.size, 1, "the first node took every lease before the second started");
    assert.equal(second!.leases.held().length, 0, "the second node runs none of them");
  });

  it("an anomaly is alerted once, not once per node", async () => {
    await lockOut("locked-one");
    assert.equal(await settledAlertsFor("locked-one"), 1);
  });

  it("the holding node stops → the other takes every job over and alerts the next anomaly, once", async () => {
    const first = new Set((await leases()).map((r) => r.holder));
    assert.equal(first.size, 1);
    assert.equal(ts.leases.held().length, SINGLETONS.length, "the first node holds every job");
    const stoppedAt = Date.now();
    await ts.stopServing(); // the first node goes away (leases released); the database stays
    while (second!.leases.held().length < SINGLETONS.length && Date.now() - stoppedAt < 15_000) await sleep(100);
    const moved = Date.now() - stoppedAt;
    assert.equal(second!.leases.held().length, SINGLETONS.length, "the second node runs every job");
    console.log(`      (every job moved ${moved} ms after the first node stopped)`);
    const rows = await leases();
    assert.equal(new Set(rows.map((r) => r.holder)).size, 1);
    assert.ok(!first.has(rows[0]!.holder), "held by the second node now");
    assert.deepEqual(second!.leases.held().map((h) => h.epoch), Array(SINGLETONS.length).fill(2), "a new epoch each");
    await lockOut("locked-two");
    assert.equal(await settledAlertsFor("locked-two"), 1);
    assert.equal(await alertsFor("locked-one"), 1, "the first alert is not raised again by the new holder");
  });
});
