/**
 * Issue 14 item 4: three CA nodes — separate `cli/main.ts serve` processes, separate ports — on one
 * throwaway PostgreSQL of this test's own, a 3-node NATS JetStream cluster on 127.0.0.1 and one SoftHSM
 * token, under steady load from outside (issuance with Idempotency-Key, revocation, OCSP GETs, resident
 * events published to JetStream). Faults, one after the other, with the load running:
 * 1. kill -9 of the node holding the most job leases: every singleton job it held moves to a survivor
 *    within the bound (docs/cluster.md: TTL 10 s, ≤ 15 s);
 * 2. PostgreSQL stopped and started again: the nodes recover by themselves;
 * 3. the JetStream stream leader's NATS node stopped and started again.
 * Then the integrity checks (test/support/cluster-checks.ts), the audit chain verified by the CLI, and
 * a summary of what was sent and answered, printed for the record.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { connect, nanos, StorageType } from "nats";
import pg from "pg";
import { cardCsrPool, cardCsrPoolDir } from "../../bench/card-csr-pool.js";
import { RESIDENT_EVENTS_STREAM, RESIDENT_EVENTS_SUBJECTS } from "../../events/nats-consumer.js";
import { checkEvents, checkIssuances, waitForEvents } from "../support/cluster-checks.js";
import { AttemptCounts, closeAgents, NodeRing, sleep, statusOf } from "../support/cluster-http.js";
import { ClusterLoad } from "../support/cluster-load.js";
import { startNatsCluster, type NatsCluster } from "../support/cluster-nats.js";
import { clusterEnv, createClusterToken, runCli, startCaNode, type CaNode } from "../support/cluster-nodes.js";
import { startClusterPostgres, type ClusterPostgres } from "../support/cluster-postgres.js";
import { ClusterWatch, holderPid } from "../support/cluster-watch.js";

/** docs/cluster.md: a job held by a dead node is taken by a survivor within this bound. */
const FAILOVER_BOUND_S = 15;
/** Applications the CSR pool holds (two card keys each); the load stops short of it. */
const MAX_APPLICATIONS = 800;

describe("cluster: three nodes, a NATS JetStream cluster, one PostgreSQL; faults under load", function () {
  this.timeout(180_000);
  const dir = join(process.cwd(), `var/test/cluster-${process.pid}`);
  let pgServer: ClusterPostgres | undefined;
  let nats: NatsCluster | undefined;
  const nodes: CaNode[] = [];
  let env: NodeJS.ProcessEnv;
  let ring: NodeRing | undefined;
  let load: ClusterLoad | undefined;
  let watch: ClusterWatch | undefined;
  let db: pg.Client | undefined;
  const summary: string[] = [];
  const setup: string[] = [];
  let failed = false;

  const startNode = async (i: number): Promise<CaNode> => {
    const node = await startCaNode(`node-${i + 1}`, env, dir);
    nodes[i] = node;
    ring?.set(i, node);
    return node;
  };
  const nodeOfPid = (pid: number): CaNode | undefined => nodes.find((n) => n.pid === pid);

  before(async function () {
    this.timeout(300_000);
    const setupStarted = Date.now();
    const lap = (what: string): void => void setup.push(`${what} ${((Date.now() - setupStarted) / 1000).toFixed(1)} s`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    pgServer = await startClusterPostgres(join(dir, "pg"));
    nats = await startNatsCluster(join(dir, "nats"));
    // The stream on all three NATS nodes (the service creates a one-replica stream when none exists).
    const nc = await connect({ servers: nats.serversList.split(",") });
    await (await nc.jetstreamManager()).streams.add({ name: RESIDENT_EVENTS_STREAM, subjects: [...RESIDENT_EVENTS_SUBJECTS], storage: StorageType.File, num_replicas: 3, duplicate_window: nanos(120_000) });
    await nc.close();
    lap("PostgreSQL and NATS");
    const token = createClusterToken(join(dir, "softhsm"));
    env = clusterEnv({ varDir: join(dir, "ca"), databaseUrl: pgServer.url, natsUrl: nats.serversList, token });
    const init = runCli(env, ["init"]);
    assert.equal(init.code, 0, `init:\n${init.output}`);
    lap("init");
    const csrs = cardKeys(2 * MAX_APPLICATIONS, join(dir, "card-csrs"));
    lap("card keys");
    // All three started before a failure is reported, so that after() stops every one of them.
    const started = await Promise.allSettled([0, 1, 2].map(startNode));
    for (const r of started) if (r.status === "rejected") throw r.reason;
    lap("nodes");
    summary.push(`set-up: ${setup.join(", ")}`);
    ring = new NodeRing([...nodes]);
    watch = new ClusterWatch(pgServer.url);
    watch.start();
    load = new ClusterLoad({ ring, varDir: join(dir, "ca"), natsServers: nats.serversList, csrs });
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") failed = true;
  });

  after(async () => {
    await load?.stop().catch(() => undefined);
    closeAgents();
    await watch?.stop().catch(() => undefined);
    await db?.end().catch(() => undefined);
    // On failure: the errors the nodes logged (pino level ≥ 50) other than the expected 503s, and the
    // answers 5xx other than 503.
    if (failed) {
      const unexpected = (l: string): boolean => /"level":[56]0/.test(l) && !l.includes('"kind":"unavailable"');
      for (const n of nodes.filter(Boolean)) console.log(`--- ${n.name}: errors logged\n${readFileSync(n.logFile, "utf8").split("\n").filter(unexpected).slice(-20).join("\n")}`);
      const kinds = { issuance: load?.issuance, revocation: load?.revocation, crl: load?.crlRuns, ocsp: load?.ocsp };
      console.log(`--- 5xx answers other than 503, and timeouts\n${Object.entries(kinds).flatMap(([k, c]) => (c?.serverErrors ?? []).map((e) => `${k}: ${e}`)).join("\n")}`);
    }
    await Promise.all(nodes.filter(Boolean).map((n) => n.stop()));
    await nats?.destroy();
    pgServer?.destroy();
    rmSync(dir, { recursive: true, force: true });
    if (summary.length > 0) console.log(`\n      cluster summary\n${summary.map((l) => `        ${l}`).join("\n")}\n`);
  });

  it("three nodes serve, and each background job is leased to exactly one of them", async () => {
    for (const n of nodes) assert.equal(await statusOf(`${n.httpUrl}/readyz`), 200, `${n.name} ready`);
    await load!.start();
    const deadline = Date.now() + 20_000;
    while ((!watch!.leasesTable || watch!.leases.length === 0 || watch!.leases.some((l) => !l.live)) && Date.now() < deadline) await sleep(200);
    assert.ok(watch!.leasesTable, "table job_leases (migration 0023) exists");
    assert.ok(watch!.leases.length > 0, "background jobs hold leases");
    for (const l of watch!.leases) {
      assert.ok(l.live, `lease of ${l.job} live`);
      assert.ok(nodeOfPid(holderPid(l.holder)), `lease of ${l.job} held by one of the nodes (${l.holder})`);
    }
    const held = [...watch!.heldBy().entries()].map(([h, jobs]) => `${nodeOfPid(holderPid(h))?.name}: ${jobs.length}`);
    summary.push(`jobs leased: ${watch!.leases.length} (${watch!.leases.map((l) => l.job).join(", ")}); per node ${held.join(", ")}`);
  });

  it(`kill -9 of the node holding the most leases: its jobs resume on a survivor within ${FAILOVER_BOUND_S} s, clients carry on`, async () => {
    await sleep(5000);
    const [holder, jobs] = [...watch!.heldBy().entries()].sort((a, b) => b[1].length - a[1].length)[0] ?? [];
    assert.ok(holder && jobs, "some node holds leases");
    const victim = nodeOfPid(holderPid(holder))!;
    const index = nodes.indexOf(victim);
    const issuedBefore = load!.issuance.byStatus.get(201) ?? 0;
    await victim.kill();
    const killedAt = Date.now();
    const moved = new Map<string, number>();
    while (moved.size < jobs.length && Date.now() - killedAt < 30_000) {
      await watch!.poll();
      for (const l of watch!.leases) {
        const survivor = nodeOfPid(holderPid(l.holder));
        if (jobs.includes(l.job) && !moved.has(l.job) && l.live && survivor && survivor !== victim && survivor.alive) moved.set(l.job, (Date.now() - killedAt) / 1000);
      }
      await sleep(100);
    }
    const slowest = Math.max(...moved.values());
    summary.push(`kill -9 ${victim.name} at ${clock(killedAt)}: ${jobs.length} jobs moved, the last after ${slowest.toFixed(1)} s (${[...moved].map(([j, s]) => `${j} ${s.toFixed(1)}`).join(", ")})`);
    assert.deepEqual([...jobs].filter((j) => !moved.has(j)), [], "every job of the dead node taken by a survivor");
    assert.ok(slowest <= FAILOVER_BOUND_S, `failover ${slowest.toFixed(1)} s ≤ ${FAILOVER_BOUND_S} s`);
    assert.ok((load!.issuance.byStatus.get(201) ?? 0) > issuedBefore, "issuance went on through the survivors");
    const restarted = await startNode(index);
    summary.push(`${restarted.name} started again ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
  });

  it("PostgreSQL stopped for 5 s mid-load: every node recovers by itself, the jobs are leased again", async () => {
    await sleep(3000);
    const before = { ...statusSnapshot(load!.issuance) };
    pgServer!.stop();
    const stoppedAt = Date.now();
    await sleep(5000);
    pgServer!.start();
    const startedAt = Date.now();
    const ready = new Map<string, number>();
    while (ready.size < nodes.length && Date.now() - startedAt < 30_000) {
      for (const n of nodes) if (!ready.has(n.name) && (await statusOf(`${n.httpUrl}/readyz`, 2000)) === 200) ready.set(n.name, (Date.now() - startedAt) / 1000);
      await sleep(200);
    }
    assert.equal(ready.size, nodes.length, `nodes ready again: ${[...ready.keys()].join(", ")}`);
    const issued = load!.issuance.byStatus.get(201) ?? 0;
    const deadline = Date.now() + 20_000;
    while ((load!.issuance.byStatus.get(201) ?? 0) === issued && Date.now() < deadline) await sleep(100);
    assert.ok((load!.issuance.byStatus.get(201) ?? 0) > issued, "issuance answers 201 again");
    const leaseDeadline = Date.now() + FAILOVER_BOUND_S * 1000;
    while (watch!.leases.some((l) => !l.live) && Date.now() < leaseDeadline) await sleep(200);
    assert.deepEqual(watch!.leases.filter((l) => !l.live).map((l) => l.job), [], "every job leased again");
    const during = diffStatuses(before, statusSnapshot(load!.issuance));
    summary.push(`PostgreSQL stopped at ${clock(stoppedAt)}, down ${((startedAt - stoppedAt) / 1000).toFixed(1)} s: nodes ready again after ${Math.max(...ready.values()).toFixed(1)} s; issuance answers meanwhile ${during}`);
  });

  it("the NATS node leading the stream stopped and started again mid-stream: publishing and consuming carry on", async () => {
    const nc = await connect({ servers: nats!.serversList.split(",") });
    const info = await (await nc.jetstreamManager()).streams.info(RESIDENT_EVENTS_STREAM);
    await nc.close();
    const leader = nats!.nodes.findIndex((n) => n.name === info.cluster?.leader);
    assert.ok(leader >= 0, `stream leader ${info.cluster?.leader ?? "none"} is one of ours`);
    const sentBefore = load!.eventsSent.size;
    await nats!.stopNode(leader);
    const stoppedAt = Date.now();
    await sleep(6000);
    await nats!.startNode(leader);
    const down = (Date.now() - stoppedAt) / 1000;
    await sleep(3000);
    assert.ok(load!.eventsSent.size > sentBefore, "events published meanwhile");
    summary.push(`NATS ${info.cluster?.leader} (stream leader) stopped at ${clock(stoppedAt)}, down ${down.toFixed(1)} s: ${load!.eventsSent.size - sentBefore} events published since, ${load!.eventPublishRetries} publishes retried`);
  });

  it("after the faults: every request answered, retries idempotent, no duplicate, CRLs ordered, audit chain intact, every event applied once", async function () {
    this.timeout(150_000);
    await load!.stop();
    const loadStopped = Date.now();
    // Every application that went unanswered (or 503) once, and some that did not, sent again unchanged.
    const again = new AttemptCounts();
    const unanswered = load!.applications.filter((a) => a.unanswered);
    const sample = [...unanswered, ...load!.applications.filter((a) => !a.unanswered).slice(0, 10)];
    const mismatches: string[] = [];
    for (const app of sample) {
      const r = await load!.resend(app, again);
      const serials = r.answer?.status === 201 ? (JSON.parse(r.answer.body.toString("utf8")) as { certificates: Array<{ serialNumber: string }> }).certificates.map((c) => c.serialNumber) : [];
      if (r.answer?.headers["idempotent-replayed"] !== "true" || serials.join() !== app.certificates?.map((c) => c.serial).join()) mismatches.push(`${app.key}: ${r.answer?.status ?? "no answer"} ${serials.join(",")}`);
    }
    assert.deepEqual(mismatches, [], "a retry returns the certificates of the first answer");

    // A client of this test's own, opened after the PostgreSQL restart (a restart cuts every connection).
    db = new pg.Client({ connectionString: pgServer!.url });
    db.on("error", () => undefined);
    await db.connect();
    const issuance = await checkIssuances(db, load!.applications);
    summary.push(`(5xx other than 503: ${load!.issuance.serverErrors.join(" | ") || "none"})`);
    assert.deepEqual(issuance.problems, [], "issuance integrity");
    const stored = await waitForEvents(db, load!.eventsSent.size, 45_000);
    const eventsLag = (Date.now() - loadStopped) / 1000;
    const events = await checkEvents(db, load!.eventsSent, load!.applications);
    assert.deepEqual(events.problems, [], "events applied exactly once");
    for (const serial of load!.revokedByOperator) assert.equal((await load!.certificate(serial))?.status, "revoked", `revoked ${serial}`);

    // Every node answers "revoked" for what the operator revoked (OCSP, pre-signed by whichever node holds the job).
    const ocspDeadline = Date.now() + 15_000;
    const notRevoked = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const n of nodes) for (const serial of load!.revokedByOperator) if ((await load!.ocspStatus(n.httpUrl, serial)) !== "revoked") out.push(`${n.name} ${serial}`);
      return out;
    };
    let stale = await notRevoked();
    while (stale.length > 0 && Date.now() < ocspDeadline) {
      await sleep(500);
      stale = await notRevoked();
    }
    assert.deepEqual(stale, [], "OCSP on every node: revoked");

    await watch!.poll();
    assert.deepEqual(watch!.crlRegressions, [], "CRL numbers in the database strictly increasing per partition");
    assert.deepEqual(load!.crlNumberRegressions, [], "CRL numbers answered by the runs strictly increasing per partition");
    assert.ok(watch!.crlChanges() > 0 && load!.crlRuns.answered > 0, "CRLs were published during the run");
    const verify = runCli(env, ["audit", "verify"]);
    assert.equal(verify.code, 0, `audit verify:\n${verify.output}`);

    const i = load!.issuance;
    summary.push(
      `issuance: ${load!.applications.length} applications, ${i.sent} requests sent, ${i.answered} answered (${i.statuses()}), ${i.unanswered} unanswered (${i.timedOut} timed out), ${i.retried} retried; ${i.withRetryAfter} of the 503s with Retry-After`,
      `retries of ${unanswered.length} once-unanswered and ${sample.length - unanswered.length} answered applications: ${sample.length} × the same certificates (${again.statuses()})`,
      `certificates: ${issuance.certificates} signed for ${issuance.issuances} issuances, none pending, no duplicate serial`,
      `revocation by the operator: ${load!.revokedByOperator.length} (${load!.revocation.statuses()}); OCSP GETs ${load!.ocsp.sent} (HTTP ${load!.ocsp.statuses()}, ${load!.ocsp.unanswered} unanswered; responseStatus ${[...load!.ocspResponseStatuses].map(([k, n]) => `${k}×${n}`).join(" ")})`,
      `events: ${load!.eventsSent.size} sent (${load!.eventPublishRetries} publishes retried), ${stored} stored (all by ${eventsLag.toFixed(1)} s after the load stopped), ${events.applied} applied, ${events.revoked} certificates revoked by them`,
      `CRLs: ${load!.crlRuns.byStatus.get(200) ?? 0} runs on any node (${load!.crlRuns.statuses()}; ${load!.crlRuns.unanswered} unanswered), ${watch!.crlChanges()} number changes seen, strictly increasing in ${watch!.crlNumbers.size} partition/kind rows; audit chain: ${/audit log verifies: ([^;]*)/.exec(verify.output)?.[1] ?? "verifies"}`,
    );
    assert.equal(i.byStatus.get(500) ?? 0, 0, `no bare 500 (${i.statuses()})`);
    const hung = { issuance: i.timedOut, ocsp: load!.ocsp.timedOut, revocation: load!.revocation.timedOut, crlRuns: load!.crlRuns.timedOut };
    assert.deepEqual(hung, { issuance: 0, ocsp: 0, revocation: 0, crlRuns: 0 }, "no request left without an answer for 20 s (refused or reset is an answer of a dead node; a hang is not)");
  });
});

/**
 * `count` card CSRs: from the benchmarks' cache (bench/card-csr-pool.ts) when it holds enough, read only;
 * otherwise made under `dir` (≈ 8 s for 1,400), which the test removes. A test never writes the cache.
 */
function cardKeys(count: number, dir: string): string[] {
  const cache = join(cardCsrPoolDir, "rsa2048.json");
  try {
    if (existsSync(cache) && (JSON.parse(readFileSync(cache, "utf8")) as { csrs?: unknown[] }).csrs!.length >= count) return cardCsrPool(count);
  } catch {
    // unreadable or torn: make our own
  }
  return cardCsrPool(count, () => undefined, dir);
}

/** hh:mm:ss UTC, to match the times of the incidents printed on failure. */
const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 19);

function statusSnapshot(c: AttemptCounts): Record<string, number> {
  return { ...Object.fromEntries(c.byStatus), unanswered: c.unanswered };
}

function diffStatuses(a: Record<string, number>, b: Record<string, number>): string {
  return (
    Object.keys(b)
      .map((k) => [k, (b[k] ?? 0) - (a[k] ?? 0)] as const)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k}×${n}`)
      .join(" ") || "none"
  );
}
