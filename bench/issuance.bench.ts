/**
 * Pair issuances end-to-end: `POST /v1/issuances` (one user-authentication + one signing certificate,
 * RSA-2048 card keys) over mutual-TLS HTTPS to the service run as `npm start` runs it, on PostgreSQL,
 * with RSA-2048 CA keys in SoftHSM. Beside it, the raw SoftHSM RSA-2048 signing rate measured in the
 * same run (the physical ceiling: every certificate costs one CA signature).
 *
 * Setup: DATABASE_URL or a throwaway PostgreSQL (scripts/services.sh, stopped afterwards only if started
 * here), a fresh database, a fresh SoftHSM token, the service in a child process (key ceremony, then serve
 * on 127.0.0.1 ephemeral ports), one keep-alive HTTPS agent with the demo terminal certificate, one
 * operator session. Every issuance is for another resident (distinct residentCode) with two card keys
 * never used before (the CA refuses key reuse): see card-csr-pool.ts.
 *
 * Phases: warm-up (2 s, not reported); 1 in flight (unloaded latency); `concurrency` in flight for
 * `seconds` (maximum rate, p50/p99); open loop at half that rate for `seconds` (p99 under load).
 *
 * Run alone: `npx tsx bench/issuance.bench.ts [--seconds 15] [--concurrency 8] [--cards 24000] [--workers 2] [--cpu-prof]`
 * (`--cpu-prof`: profile the service and print where its event loop spent the maximum-rate phase).
 */
import { X509Certificate } from "node:crypto";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { createTestToken, deleteTestToken } from "../test/support/softhsm.js";
import { cardCsrPool } from "./card-csr-pool.js";
import { formatProfileSummary, issuanceActivities, summarizeActivities, summarizeCpuProfile } from "./cpu-profile-summary.js";
import { closedLoop, openLoop, type Job, type LoadStats } from "./load-driver.js";
import { ensurePostgres } from "./postgres-server.js";
import { cpuSince, cpuSnapshot, type CpuSnapshot } from "./process-cpu.js";
import { BenchFailure, formatBenchTable, withBaseline, type BenchResult } from "./result.js";
import { createDatabase, startServiceProcess } from "./service-process.js";
import { rawSignRates } from "./signer.bench.js";
import { demoTerminal, issuanceBody, jstToday, TerminalClient } from "./terminal-client.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export interface BenchIssuanceOptions {
  /** Seconds of the maximum-rate phase and of the half-rate phase (default 15). */
  seconds?: number;
  /** Requests in flight in the maximum-rate phase (default 8: the service's event loop saturates at 4–8). */
  concurrency?: number;
  /** Seconds of each raw signer measurement (default 3). */
  rawSeconds?: number;
  /** Card CSRs in the pool, 2 per issuance (default 24,000; made once, cached under var/bench/). */
  cards?: number;
  /** Service processes (CA_WORKERS; default: the machine's cores − 1, at least 1). */
  workers?: number;
  /** Profile the service with `--cpu-prof` into this directory. */
  cpuProfileDir?: string;
  log?: (line: string) => void;
}

const WARMUP_SECONDS = 2;
const UNLOADED_SECONDS = 3;

/** Runs the benchmark (about 2 × `seconds` + 25 s, plus the card pool the first time). */
export async function benchIssuance(options: BenchIssuanceOptions = {}): Promise<BenchResult[]> {
  const seconds = options.seconds ?? 15;
  const concurrency = options.concurrency ?? 8;
  // One core is left to PostgreSQL, SoftHSM's threads and the load generator (README: CA_WORKERS).
  const workers = options.workers ?? Math.max(1, availableParallelism() - 1);
  const log = options.log ?? ((line: string) => console.error(`[issuance] ${line}`));
  const cards = cardCsrPool(options.cards ?? 24_000, log);
  const issuances = Math.floor(cards.length / 2);

  const postgres = ensurePostgres(log);
  const cleanups: Array<() => Promise<void> | void> = [() => postgres.release()];
  try {
    // The token is made before anything in this process initialises SoftHSM (softhsm.ts explains why).
    const token = createTestToken("bench-issuance");
    cleanups.unshift(() => deleteToken(token));
    log("raw SoftHSM RSA-2048 signing rate (same token, before the service starts)");
    const raw = await rawSignRates(token, { type: "rsa", bits: 2048 }, options.rawSeconds ?? 3);

    const database = await createDatabase(postgres.url, "ca_bench");
    cleanups.unshift(() => database.drop());
    // Kept after the run (service.log); replaced by the next run.
    const varDir = join(repoRoot, "var/bench/issuance");
    rmSync(varDir, { recursive: true, force: true });
    mkdirSync(varDir, { recursive: true });
    if (options.cpuProfileDir) {
      rmSync(options.cpuProfileDir, { recursive: true, force: true });
      mkdirSync(options.cpuProfileDir, { recursive: true });
    }
    log("starting the service (key ceremony, then serve)");
    const service = await startServiceProcess({ varDir, databaseUrl: database.url, token, workers, ...(options.cpuProfileDir ? { cpuProfileDir: options.cpuProfileDir } : {}) });
    cleanups.unshift(() => service.stop());

    const terminal = demoTerminal(varDir);
    const client = new TerminalClient(service.httpsUrl, terminal.tls, Math.max(64, concurrency));
    cleanups.unshift(() => client.close());
    await client.login(terminal.operatorId, terminal.password);

    const runId = `${process.pid}-${Date.now().toString(36)}`;
    const today = jstToday();
    const failures: string[] = [];
    let checked = false;
    const job: Job = async (i) => {
      const answer = await client.issue(issuanceBody(i, today, cards[2 * i]!, cards[2 * i + 1]!), `bench-${runId}-${i}`);
      if (answer.status !== 201) {
        if (failures.length < 5) failures.push(`${answer.status} ${answer.body.toString("utf8").slice(0, 300)}`);
        return false;
      }
      if (!checked) {
        checked = true;
        checkAnswer(answer.body);
      }
      return true;
    };

    let next = 0;
    const phase = async (name: string, run: (first: number) => Promise<LoadStats>): Promise<LoadStats> => {
      const s = await run(next);
      next += s.ok + s.failed;
      log(`${name}: ${s.ok} ok, ${s.failed} failed in ${s.elapsed.toFixed(1)} s = ${s.rate.toFixed(1)} issuances/s; p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, max ${s.max.toFixed(1)} ms${s.exhausted ? " (card pool exhausted)" : ""}`);
      failures.push(...s.errors);
      return s;
    };
    const warm = await phase("warm-up", (first) => closedLoop(job, { concurrency, seconds: WARMUP_SECONDS, limit: issuances - first, first }));
    if (warm.failed > 0) throw new Error(`issuances fail already in the warm-up: ${failures.slice(0, 3).join(" | ")}`);
    const unloaded = await phase("1 in flight", (first) => closedLoop(job, { concurrency: 1, seconds: UNLOADED_SECONDS, limit: issuances - first, first }));
    const cpuBefore = cpuSnapshot(service.pid, database.name);
    const maxFromMs = performance.now() - service.spawnedAt;
    const max = await phase(`${concurrency} in flight`, (first) => closedLoop(job, { concurrency, seconds, limit: issuances - first, first }));
    const maxToMs = performance.now() - service.spawnedAt;
    const cpu = cpuSince(cpuBefore, cpuSnapshot(service.pid, database.name));
    logCpu(cpu, max.ok, log);
    const halfRate = max.rate / 2;
    const half = await phase(`open loop at ${halfRate.toFixed(1)} issuances/s`, (first) => openLoop(job, { rate: halfRate, seconds, limit: issuances - first, first }));

    const certsPerSecond = 2 * max.rate;
    const results: BenchResult[] = [
      { ...withBaseline(`issuance pairs over HTTPS, ${concurrency} in flight, ${workers} worker(s)`, certsPerSecond, "certs/s", { name: "raw SoftHSM RSA-2048 sign, async pool x4", value: raw.asyncPool }), target: { op: ">=", value: 1000 } },
      { ...withBaseline(`issuance pairs over HTTPS, ${concurrency} in flight, ${workers} worker(s)`, certsPerSecond, "certs/s", { name: "raw SoftHSM RSA-2048 sign, 2 worker_threads", value: raw.workers }), target: { op: ">=", value: 0.4, of: "ratio" } },
      { name: "issuance latency p50, 1 in flight", value: unloaded.p50, unit: "ms" },
      withBaseline(`issuance latency p50, ${concurrency} in flight`, max.p50, "ms", { name: "p50, 1 in flight", value: unloaded.p50 }),
      withBaseline(`issuance latency p99, ${concurrency} in flight`, max.p99, "ms", { name: "p99, 1 in flight", value: unloaded.p99 }),
      {
        ...withBaseline(`issuance latency p99, open loop at half max (${(2 * halfRate).toFixed(0)} certs/s)`, half.p99, "ms", { name: "p99, 1 in flight", value: unloaded.p99 }),
        target: { op: "<=", value: 100 },
      },
      { name: `CPU per issuance at max rate: service process (incl. SoftHSM threads)`, value: (1000 * cpu.service) / Math.max(1, max.ok), unit: "ms" },
      { name: `CPU per issuance at max rate: PostgreSQL backends`, value: (1000 * cpu.postgres) / Math.max(1, max.ok), unit: "ms" },
      { name: "noise: other processes' CPU during the max-rate phase", value: (100 * (cpu.machineBusy - cpu.service - cpu.postgres - cpu.client)) / cpu.machineTotal, unit: "% of machine" },
    ];
    if (options.cpuProfileDir) {
      await service.stop(); // the profile is written on exit
      const main = readdirSync(options.cpuProfileDir).find((f) => /\.0\.\d+\.cpuprofile$/.test(f)); // thread 0: the event loop
      if (main) {
        const file = join(options.cpuProfileDir, main);
        const range = { fromMs: maxFromMs, toMs: maxToMs };
        const activities = summarizeActivities(file, issuanceActivities, range).map((a) => `  ${(100 * a.share).toFixed(1).padStart(5)}%  ${a.ms.toFixed(0).padStart(7)} ms  ${a.activity}`);
        log(`CPU profile of the service's event loop during the ${concurrency}-in-flight phase (${file} --from ${maxFromMs.toFixed(0)} --to ${maxToMs.toFixed(0)}):\n${formatProfileSummary(summarizeCpuProfile(file, range), 30)}\nby activity:\n${activities.join("\n")}`);
      }
    }
    if (failures.length > 0 || max.failed + half.failed + unloaded.failed > 0) {
      throw new BenchFailure(`issuance requests failed: ${failures.slice(0, 5).join(" | ")}`, results);
    }
    if (max.exhausted || half.exhausted) throw new BenchFailure("the card pool ran out: raise --cards", results);
    return results;
  } finally {
    for (const cleanup of cleanups) {
      try {
        await cleanup();
      } catch (e) {
        log(`cleanup: ${(e as Error).message}`);
      }
    }
  }
}

/** Where the CPU went during the maximum-rate phase, per issuance. */
function logCpu(cpu: CpuSnapshot, issued: number, log: (line: string) => void): void {
  if (issued === 0) return;
  const per = (s: number): string => `${((1000 * s) / issued).toFixed(2)} ms`;
  const other = cpu.machineBusy - cpu.service - cpu.postgres - cpu.client;
  log(
    `CPU per issuance: service ${per(cpu.service)}, PostgreSQL backends ${per(cpu.postgres)}, load generator ${per(cpu.client)}, ` +
      `everything else on the machine ${per(other)}; machine busy ${((100 * cpu.machineBusy) / cpu.machineTotal).toFixed(0)}%`,
  );
}

/** The first answer: two certificates, each signed by its CA certificate, for the keys requested. */
function checkAnswer(body: Buffer): void {
  const answer = JSON.parse(body.toString("utf8")) as { certificates: Array<{ kind: string; certificate: string; caCertificate: string }> };
  if (answer.certificates.length !== 2) throw new Error(`expected 2 certificates, got ${answer.certificates.length}`);
  for (const c of answer.certificates) {
    const cert = new X509Certificate(c.certificate);
    const ca = new X509Certificate(c.caCertificate);
    if (!cert.verify(ca.publicKey)) throw new Error(`the ${c.kind} certificate does not verify with its CA certificate`);
  }
}

function deleteToken(token: { tokenLabel: string; confPath: string }): void {
  deleteTestToken(token);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: { seconds: { type: "string" }, concurrency: { type: "string" }, cards: { type: "string" }, workers: { type: "string" }, "cpu-prof": { type: "boolean" } },
  });
  const results = await benchIssuance({
    ...(values.seconds ? { seconds: Number(values.seconds) } : {}),
    ...(values.concurrency ? { concurrency: Number(values.concurrency) } : {}),
    ...(values.workers ? { workers: Number(values.workers) } : {}),
    ...(values.cards ? { cards: Number(values.cards) } : {}),
    ...(values["cpu-prof"] ? { cpuProfileDir: join(repoRoot, "var/bench/profile") } : {}),
  });
  console.log(formatBenchTable(results));
}
