import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Koa from "koa";
import { CaError } from "../../../ca/errors.js";
import type { Signer } from "../../../ca/ports.js";
import { errorMiddleware } from "../../../api/error-middleware.js";
import { createLogger } from "../../../api/logger.js";
import { Metrics } from "../../../api/metrics.js";
import { clusterReadinessChecks, healthRoutes, type ReadinessCheck } from "../../../api/routes/health.js";
import { NodeHeartbeatStore } from "../../../db/node-heartbeat-store.js";
import { ocspOutboxLagMs } from "../../../db/outbox-lag.js";
import { openTestDatabase, type TestDatabase } from "../../support/database.js";
import { seedCaGenerations } from "../../support/resident-event-seed.js";

/** A signer port that counts its calls and fails while `failing` is set. */
function countingSigner(): Signer & { calls: number; failing: boolean } {
  const s = {
    algorithm: "ecdsa-with-SHA256" as const,
    publicKey: new Uint8Array([1]),
    calls: 0,
    failing: false,
    sign: async (): Promise<Uint8Array> => {
      s.calls++;
      if (s.failing) throw new CaError("unavailable", "HSM token not reachable (CKR_GENERAL_ERROR)");
      return new Uint8Array([0x30, 0x00]);
    },
  };
  return s;
}

const check = (checks: readonly ReadinessCheck[], name: string): ReadinessCheck => checks.find((c) => c.name === name)!;
const outcome = (p: Promise<void>): Promise<string> =>
  p.then(
    () => "ok",
    (e: unknown) => (e instanceof CaError ? `${e.kind}: ${e.message}` : `other: ${String(e)}`),
  );

describe("faults: /readyz checks a write, a signature and the OCSP lag (issue 14 item 3c)", function () {
  this.timeout(30_000);
  let t: TestDatabase;

  before(async () => {
    t = await openTestDatabase("pglite");
  });
  after(async () => {
    await t?.close();
  });

  it("the heartbeat writes once per interval however often it is polled, and again at once after a failure", async () => {
    let now = 1_000_000;
    const store = new NodeHeartbeatStore(t.db, { node: "node-a:1", minIntervalMs: 5000, now: () => now });
    await Promise.all(Array.from({ length: 20 }, () => store.beat()));
    for (let i = 0; i < 4; i++) {
      now += 1000; // a load balancer polling every second
      await store.beat();
    }
    assert.equal(store.writes, 1, "one write in 4 s of polling");
    now += 1000;
    await store.beat();
    assert.equal(store.writes, 2, "the next write once the interval is over");
    const row = (await t.db.knex("node_heartbeats").where({ node: "node-a:1" }).first()) as { beats: number };
    assert.equal(Number(row.beats), 2);

    // A failed write is not remembered: the next poll writes again (and sees the recovery at once).
    await t.db.knex.raw("alter table node_heartbeats rename to node_heartbeats_away");
    now += 6000;
    await assert.rejects(store.beat());
    await t.db.knex.raw("alter table node_heartbeats_away rename to node_heartbeats");
    await store.beat();
    assert.equal(store.writes, 4);
  });

  it("database-write fails with the database's reason, without personal data", async () => {
    const checks = clusterReadinessChecks({ db: t.db, signers: new Map([["g1", countingSigner()]]), ocspMaxLagMs: 60_000, heartbeat: new NodeHeartbeatStore(t.db, { node: "node-b:1" }) });
    assert.equal(await outcome(check(checks, "database-write").check()), "ok");
    await t.db.knex.raw("alter table node_heartbeats rename to node_heartbeats_away");
    try {
      const refused = clusterReadinessChecks({ db: t.db, signers: new Map(), ocspMaxLagMs: 60_000, heartbeat: new NodeHeartbeatStore(t.db, { node: "node-c:1" }) });
      assert.equal(await outcome(check(refused, "database-write").check()), "unavailable: database refused a write (SQLSTATE 42P01)");
    } finally {
      await t.db.knex.raw("alter table node_heartbeats_away rename to node_heartbeats");
    }
  });

  it("hsm-sign signs a probe, trusts a success for 5 s and a failure for 1 s", async () => {
    const signer = countingSigner();
    const checks = clusterReadinessChecks({ db: t.db, signers: new Map([["g1", signer]]), ocspMaxLagMs: 60_000 });
    const hsm = check(checks, "hsm-sign");
    assert.equal(await outcome(hsm.check()), "ok");
    await Promise.all([hsm.check(), hsm.check(), hsm.check()]);
    assert.equal(signer.calls, 1, "cached");
    const fresh = countingSigner();
    fresh.failing = true;
    const failing = check(clusterReadinessChecks({ db: t.db, signers: new Map([["g1", fresh]]), ocspMaxLagMs: 60_000 }), "hsm-sign");
    assert.equal(await outcome(failing.check()), "unavailable: HSM cannot sign: HSM token not reachable (CKR_GENERAL_ERROR)");
    assert.match(await outcome(failing.check()), /^unavailable/);
    assert.equal(fresh.calls, 1, "a failure is trusted for a second too");
    fresh.failing = false;
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await outcome(failing.check()), "ok", "re-checked after a second");
    assert.match(await outcome(check(clusterReadinessChecks({ db: t.db, signers: new Map(), ocspMaxLagMs: 1 }), "hsm-sign").check()), /no CA key loaded/);
  });

  it("ocsp-lag: a revocation older than the limit whose stored response still says good makes the node not ready", async () => {
    await seedCaGenerations(t.db);
    const caId = ((await t.db.knex("ca_generations").first("id")) as { id: string }).id;
    const response = (serial: string, status: "good" | "revoked", signedAgoSeconds: number) => ({
      serial,
      hash_algorithm: "sha1",
      ca_id: caId,
      der: Buffer.from([0x30, 0x00]),
      cert_status: status,
      status_rank: status === "good" ? 0 : 2,
      this_update: t.db.knex.raw(`now() - interval '${signedAgoSeconds} seconds'`),
      next_update: t.db.knex.raw("now() + interval '1 day'"),
      produced_at: t.db.knex.raw(`now() - interval '${signedAgoSeconds} seconds'`),
    });
    const revoked = (serial: string, agoSeconds: number) => ({ topic: "certificate.revoked", payload: JSON.stringify({ serial }), created_at: t.db.knex.raw(`now() - interval '${agoSeconds} seconds'`) });
    const lag = check(clusterReadinessChecks({ db: t.db, signers: new Map(), ocspMaxLagMs: 60_000 }), "ocsp-lag");
    assert.equal(await ocspOutboxLagMs(t.db, "ocsp"), 0);

    // Up to date or harmless: a response re-signed as revoked, a certificate never asked about, a fresh change.
    await t.db.knex("ocsp_responses").insert([response("AA01", "revoked", 80), response("AA03", "good", 300)]);
    await t.db.knex("outbox").insert([revoked("AA01", 90), revoked("AA02", 90), revoked("AA03", 10)]);
    assert.equal(await outcome(lag.check()), "ok");
    assert.ok((await ocspOutboxLagMs(t.db, "ocsp")) < 60_000);

    // A revocation 90 s old whose stored response still says good, signed before it: lagging.
    await t.db.knex("ocsp_responses").insert(response("AA04", "good", 300));
    const [stale] = (await t.db.knex("outbox").insert(revoked("AA04", 90)).returning("id")) as Array<{ id: number }>;
    assert.ok((await ocspOutboxLagMs(t.db, "ocsp")) >= 89_000);
    assert.equal(await outcome(lag.check()), "unavailable: OCSP responses lag the revocation outbox by 90 s (limit 60 s)");

    // Re-signed (as the pre-signer does), or consumed (the cursor moved over it): ready again.
    await t.db.knex("ocsp_responses").where({ serial: "AA04" }).update({ cert_status: "revoked", this_update: t.db.knex.raw("now()") });
    assert.equal(await outcome(lag.check()), "ok");
    await t.db.knex("ocsp_responses").where({ serial: "AA04" }).update({ cert_status: "good", this_update: t.db.knex.raw("now() - interval '300 seconds'") });
    assert.match(await outcome(lag.check()), /^unavailable/);
    await t.db.knex("outbox_cursors").insert({ consumer: "ocsp", last_id: stale!.id });
    assert.equal(await outcome(lag.check()), "ok", "behind the cursor");

    // A lifted phone hold (certificate.released, docs/phone.md): the stored "revoked/certificateHold" signed
    // before the lift is out of date although it says revoked; re-signed after the lift, it is not.
    await t.db.knex("ocsp_responses").insert(response("AA05", "revoked", 300));
    await t.db.knex("outbox").insert({ topic: "certificate.released", payload: JSON.stringify({ serial: "AA05" }), created_at: t.db.knex.raw("now() - interval '90 seconds'") });
    assert.equal(await outcome(lag.check()), "unavailable: OCSP responses lag the revocation outbox by 90 s (limit 60 s)");
    await t.db.knex("ocsp_responses").where({ serial: "AA05" }).update({ cert_status: "good", this_update: t.db.knex.raw("now()") });
    assert.equal(await outcome(lag.check()), "ok");
  });

  describe("/readyz", () => {
    let server: Server;
    let base: string;
    const state = { db: true, hsm: true };

    before(async () => {
      const app = new Koa();
      app.use(errorMiddleware(createLogger("silent"), new Metrics({ defaultMetrics: false })));
      const checks: ReadinessCheck[] = [
        { name: "database-write", check: async () => void (state.db || (await Promise.reject(new CaError("unavailable", "database refused a write (SQLSTATE 53100)")))) },
        { name: "hsm-sign", check: async () => void (state.hsm || (await Promise.reject(new Error("secret detail of a library")))) },
      ];
      const r = healthRoutes(checks);
      app.use(r.routes());
      const handle = app.callback();
      server = createServer((req, res) => void handle(req, res));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      await new Promise<void>((r) => server.close(() => r()));
    });

    it("answers 200 when every check passes, else 503 + Retry-After naming the failed checks", async () => {
      let r = await fetch(`${base}/readyz`);
      assert.equal(r.status, 200);
      assert.equal(((await r.json()) as { status: string }).status, "ready");
      state.db = false;
      state.hsm = false;
      r = await fetch(`${base}/readyz`);
      assert.equal(r.status, 503);
      assert.equal(r.headers.get("retry-after"), "5");
      assert.equal(r.headers.get("cache-control"), "no-store");
      const body = (await r.json()) as { status: string; failed: string[]; checks: Array<{ name: string; error?: string }> };
      assert.deepEqual(body.failed, ["database-write", "hsm-sign"]);
      assert.equal(body.checks.find((c) => c.name === "database-write")?.error, "database refused a write (SQLSTATE 53100)");
      assert.equal(body.checks.find((c) => c.name === "hsm-sign")?.error, "unreachable", "a library's message is not shown");
    });
  });
});
