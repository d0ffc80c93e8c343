/**
 * A complete CRL run of one CA generation holding ≥ 2 million revoked (unexpired) entries, measured end to
 * end (issue 13 item 2) — not extrapolated as bench/crl.bench.ts's 25M row is:
 *
 * 1. the service's key ceremony on a fresh database (real CA generations, keys in SoftHSM), then a seeded
 *    population (bench/population-seeder.ts) of signing certificates only, with fates skewed so that the
 *    active signing generation (sign-g1, 64 partitions) holds `revoked` revoked unexpired entries. Only the
 *    certificates table is seeded (`certificatesOnly`): the CRL path reads nothing else;
 * 2. in a child process opened as the CLI opens the service (`openService`, keys checked by `checkCaKeys`,
 *    `createCrlService`): `scheduler.runNow(caId)` — every partition's full and delta CRL, built from
 *    PostgreSQL keyset pages, signed by the generation's SoftHSM key, published — the same call as
 *    `npm run cli -- crl run sign-g1`; then a few certificates per partition revoked as the revocation path
 *    writes them (certificate row + `certificate.revoked` outbox row, one transaction) and one scheduler
 *    `tick()`: the outbox read into change marks and every partition's delta CRL issued;
 * 3. partition 0's full CRL counted by `openssl crl -inform DER -noout -text | grep -c "Serial Number"`
 *    against the partition's revoked unexpired rows.
 * 4. the coverage check (`crl check <caId>`: crl.checkCoverage) over every revoked row and the CRLs just issued.
 * Figures: wall time of both runs (and of the whole child process), entries/s, per-partition p50/max, coverage check time,
 * child peak RSS. Baseline (same run): `openssl ca -gencrl` (software RSA-2048 key) over an index.txt of
 * partition 0's own entries, per partition and × partitions.
 *
 *   npm run bench -- --only crl-scale          # 2,000,000 revoked entries (about 7 minutes, 6 of them seeding)
 *   npx tsx bench/crl-scale.bench.ts 200000    # another size
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { createTestToken, deleteTestToken } from "../test/support/softhsm.js";
import { opensslGenCrl } from "./openssl-gencrl.js";
import { activeGenerations, seedPopulation } from "./population-seeder.js";
import { ensurePostgres } from "./postgres-server.js";
import { BenchFailure, formatBenchTable, withBaseline, type BenchResult } from "./result.js";
import { createDatabase, serviceEnv, startServiceProcess } from "./service-process.js";

const here = fileURLToPath(import.meta.url);
const repoRoot = resolve(dirname(here), "..");
/** Fates per 10,000 residents: nearly every signing certificate revoked (some held), the rest valid. */
const CRL_FATES = Object.freeze({ affiliationChanged: 9_000, keyCompromise: 300, unspecified: 300, hold: 100 });
/** Revoked unexpired sign-g1 entries per seeded resident with CRL_FATES, rounded down (measured: 0.74 at 2.86 M residents). */
const REVOKED_PER_RESIDENT = 0.7;
/** Certificates revoked per partition between the full run and the delta run. */
const REVOKED_LATER_PER_PARTITION = 5;

export interface BenchCrlScaleOptions {
  /** Revoked unexpired entries wanted in the signing generation (default 2,000,000). */
  readonly revoked?: number;
  readonly log?: (line: string) => void;
}

/** What the child (the CRL worker process) reports. */
interface ChildFigures {
  readonly fullRunMs: number;
  readonly deltaRunMs: number;
  readonly fullEntries: number;
  readonly partitions: number;
  readonly issued: number;
  readonly deltasIssued: number;
  readonly deltaEntries: number;
  readonly revokedLater: number;
  readonly partitionFullMs: number[];
  readonly partitionDeltaMs: number[];
  readonly partition0Entries: number;
  readonly fullBytes: number;
  readonly peakRssMb: number;
  /** `crl check <caId>` (crl.checkCoverage) after both runs: wall time and what it compared. */
  readonly coverageMs: number;
  readonly coverageRevoked: number;
  readonly coverageListed: number;
  readonly problems: string[];
}

const quantile = (xs: readonly number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;

export async function benchCrlScale(options: BenchCrlScaleOptions = {}): Promise<BenchResult[]> {
  const log = options.log ?? ((line: string) => console.error(line));
  const wanted = options.revoked ?? 2_000_000;
  const server = ensurePostgres(log);
  const token = createTestToken("bench-crl-scale");
  const database = await createDatabase(server.url, "bench_crl_scale");
  const varDir = join(repoRoot, "var/bench/crl-scale");
  rmSync(varDir, { recursive: true, force: true });
  mkdirSync(varDir, { recursive: true });
  const client = new pg.Client({ connectionString: database.url });
  const results: BenchResult[] = [];
  try {
    log("crl-scale: key ceremony (the service on a fresh database, then stopped)");
    const service = await startServiceProcess({ varDir, databaseUrl: database.url, token, config: { crl: { access: "public" } } });
    await service.stop();
    await client.connect();
    const g = (await activeGenerations(client)).sign;
    const residents = Math.ceil(wanted / REVOKED_PER_RESIDENT);
    log(`crl-scale: seeding ${residents.toLocaleString("en-US")} residents' signing certificates on ${g.id} (${g.partitions} partitions)`);
    const seeded = await seedPopulation(client, { from: 0, residents, fates: CRL_FATES, kinds: ["sign"], certificatesOnly: true, log });
    log(`crl-scale: ${seeded.certificates.toLocaleString("en-US")} certificates in ${seeded.seconds.toFixed(0)} s`);
    await client.query("vacuum (analyze) certificates");
    // What the CRL lists (db/crl-store.ts revokedEntries): revoked or held, not expired before the lookback.
    const lookback = 7 * 86_400;
    const counts = (await client.query<{ partition: number; n: string }>(
      `select partition, count(*) as n from certificates where ca_id = $1 and status in ('revoked', 'hold') and not_after >= now() - make_interval(secs => $2)
       group by partition order by partition`,
      [g.id, lookback],
    )).rows;
    const revoked = counts.reduce((s, r) => s + Number(r.n), 0);
    const p0 = Number(counts.find((r) => r.partition === 0)?.n ?? 0);
    log(`crl-scale: ${revoked.toLocaleString("en-US")} revoked unexpired entries in ${g.id} (partition 0: ${p0.toLocaleString("en-US")})`);
    const failures: string[] = [];
    if (revoked < wanted) failures.push(`only ${revoked} revoked entries seeded (wanted ${wanted})`);

    log(`crl-scale: CRL worker process: runNow(${g.id}) full + delta, then revocations and a delta tick`);
    const started = performance.now();
    const child = await runChild(serviceEnv({ varDir, databaseUrl: database.url, token }), [g.id, varDir]);
    const processSeconds = (performance.now() - started) / 1000;
    failures.push(...child.problems);
    const der = join(varDir, "partition-0-full.crl");
    const listed = Number(execFileSync("bash", ["-c", `openssl crl -inform DER -in '${der}' -noout -text | grep -c "Serial Number"`], { encoding: "utf8" }).trim());
    log(`crl-scale: openssl counts ${listed.toLocaleString("en-US")} entries in partition 0's full CRL (database: ${p0.toLocaleString("en-US")}, issuer: ${child.partition0Entries.toLocaleString("en-US")})`);
    if (listed !== p0 || child.partition0Entries !== p0) failures.push(`partition 0: openssl lists ${listed}, issuer reported ${child.partition0Entries}, database holds ${p0}`);
    if (child.fullEntries !== revoked) failures.push(`full CRLs list ${child.fullEntries} entries, database holds ${revoked}`);

    log("crl-scale: baseline openssl ca -gencrl over partition 0's entries");
    const measured = await opensslGenCrlOfPartition(client, g.id, join(varDir, "openssl"));
    const openssl = { ...measured, seconds: Math.max(measured.seconds, 0.01) }; // /usr/bin/time's %e has 10 ms steps
    const label = `CRL ${g.id}, ${(revoked / 1e6).toFixed(2)}M revoked, ${g.partitions} partitions`;
    const total = (child.fullRunMs + child.deltaRunMs) / 1000;
    const perPartitionBase = { name: `openssl ca -gencrl, partition 0 (${p0.toLocaleString("en-US")} entries)`, value: openssl.seconds };
    const allBase = { name: `openssl ca -gencrl × ${g.partitions} partitions`, value: openssl.seconds * g.partitions };
    results.push({ ...withBaseline(`${label}: every partition full + delta, then delta again (end to end)`, total, "s", allBase), target: { op: "<=", value: 60 } });
    results.push(withBaseline(`${label}: runNow (full + delta of every partition)`, child.fullRunMs / 1000, "s", allBase));
    results.push(withBaseline(`${label}: delta tick after ${child.revokedLater} revocations (${child.deltasIssued} deltas, ${child.deltaEntries} entries)`, child.deltaRunMs / 1000, "s"));
    results.push(withBaseline(`${label}: worker process wall time (open service, check keys, both runs, close)`, processSeconds, "s"));
    results.push(withBaseline(`${label}: entries/s (full run)`, child.fullEntries / (child.fullRunMs / 1000), "entries/s", { name: "openssl ca -gencrl, partition 0", value: p0 / openssl.seconds }));
    results.push(withBaseline(`${label}: per-partition full+delta p50`, quantile(child.partitionFullMs, 0.5) / 1000, "s", perPartitionBase));
    results.push(withBaseline(`${label}: per-partition full+delta max`, Math.max(...child.partitionFullMs) / 1000, "s", perPartitionBase));
    results.push(withBaseline(`${label}: per-partition delta max (delta tick)`, Math.max(...child.partitionDeltaMs) / 1000, "s"));
    results.push(withBaseline(`${label}: worker process peak RSS`, child.peakRssMb, "MB", { name: "openssl ca -gencrl max RSS, partition 0", value: openssl.maxRssKb / 1024 }));
    results.push(withBaseline(`${label}: full CRL bytes, all partitions`, child.fullBytes / 2 ** 20, "MiB"));
    log(`crl-scale: crl check ${g.id}: ${(child.coverageMs / 1000).toFixed(1)} s, ${child.coverageRevoked.toLocaleString("en-US")} revoked rows against ${child.coverageListed.toLocaleString("en-US")} CRL entries`);
    results.push(withBaseline(`${label}: coverage check (crl check) after the runs, ${(child.coverageRevoked / 1e6).toFixed(2)}M rows vs ${(child.coverageListed / 1e6).toFixed(2)}M entries`, child.coverageMs / 1000, "s", { name: "runNow (full + delta of every partition)", value: child.fullRunMs / 1000 }));
    if (failures.length > 0) throw new BenchFailure(failures.join("\n"), results);
    return results;
  } finally {
    await client.end().catch(() => undefined);
    await database.drop().catch(() => undefined);
    deleteTestToken(token);
    server.release();
  }
}

/** `openssl ca -gencrl` (software RSA-2048, sha256) over an index.txt of the partition's entries (as bench/crl.bench.ts). */
async function opensslGenCrlOfPartition(client: pg.Client, caId: string, dir: string): Promise<{ seconds: number; maxRssKb: number }> {
  mkdirSync(dir, { recursive: true });
  // openssl's index needs a hold instruction for certificateHold: held entries are listed as unspecified.
  const { rows } = await client.query<{ line: string }>(
    `select 'R' || E'\\t' || to_char(not_after at time zone 'UTC', 'YYMMDDHH24MISS') || 'Z' || E'\\t'
       || to_char(coalesce(revoked_at, updated_at) at time zone 'UTC', 'YYMMDDHH24MISS') || 'Z,'
       || case when status = 'hold' or revocation_reason is null then 'unspecified' else revocation_reason end
       || E'\\t' || upper(serial) || E'\\tunknown\\t/CN=' || serial as line
     from certificates where ca_id = $1 and partition = 0 and status in ('revoked', 'hold') and not_after >= now() - interval '7 days'`,
    [caId],
  );
  return opensslGenCrl(dir, rows.map((r) => r.line));
}

/** Runs this file as the CRL worker process (`--child caId varDir`) and parses the JSON line it prints. */
function runChild(env: NodeJS.ProcessEnv, args: string[]): Promise<ChildFigures> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", here, "--child", ...args], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (c: Buffer) => (out += c.toString()));
    p.on("error", reject);
    p.on("close", (code) => {
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0) return reject(new Error(`crl-scale worker exited with ${code}: ${out.slice(-2000)}`));
      try {
        resolvePromise(JSON.parse(line) as ChildFigures);
      } catch {
        reject(new Error(`crl-scale worker printed no figures: ${out.slice(-2000)}`));
      }
    });
  });
}

/** The worker side: the service opened as the CLI opens it, the CRL part wired for one generation. */
async function workerRun(caId: string, varDir: string): Promise<ChildFigures> {
  const { checkCaKeys, openService } = await import("../api/main.js");
  const { loadConfig } = await import("../api/config.js");
  const { createCrlService } = await import("../crl/crl-service.js");
  const { parseCrlSettings } = await import("../crl/crl-settings.js");
  const { KnexCrlStore } = await import("../db/crl-store.js");
  const service = await openService(loadConfig());
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  try {
    const configured = (service.config as { crl?: object }).crl ?? {};
    // coalesceSeconds 0: the delta tick issues right after the revocations instead of a minute later.
    const settings = parseCrlSettings({ ...configured, coalesceSeconds: 0 });
    const store = new KnexCrlStore(service.db);
    const generations = (await service.stores.caGenerations.list()).filter((g) => g.id === caId);
    const crl = createCrlService({
      store, outbox: service.stores.outbox, transactions: service.db, generations, signers: await checkCaKeys(service),
      crlBaseUrl: service.config.publicBaseUrl, clock: service.clock, settings, logger: service.logger,
    });
    // Per-partition time: the scheduler calls this issuer's issue() once per partition and run.
    const timings: Array<{ full: boolean; ms: number }> = [];
    const issue = crl.issuer.issue.bind(crl.issuer);
    crl.issuer.issue = async (authority, lease, what) => {
      const t = performance.now();
      const issued = await issue(authority, lease, what);
      timings.push({ full: what.full, ms: performance.now() - t });
      return issued;
    };
    const problems: string[] = [];
    let t = performance.now();
    const report = await crl.scheduler.runNow(generations[0]!.id);
    const fullRunMs = performance.now() - t;
    const issued = report.partitions.filter((p) => p.outcome === "issued");
    if (issued.length !== report.partitions.length) problems.push(`runNow: ${report.partitions.length - issued.length} partitions not issued`);

    // Revocations as the revocation path writes them: the row and its outbox message in one transaction.
    const made = await service.db.knex.raw<{ rows: Array<{ partition: number }> }>(
      `with picked as (
         select serial, partition from (
           select serial, partition, row_number() over (partition by partition order by serial) as rn
           from certificates where ca_id = ? and status = 'valid' and not_after > now()) x
         where rn <= ?),
       revoked as (
         update certificates c set status = 'revoked', revoked_at = now(), revocation_reason = 'keyCompromise', updated_at = now()
         from picked where c.serial = picked.serial returning c.serial, c.partition)
       insert into outbox (topic, payload)
       select 'certificate.revoked', jsonb_build_object('serial', serial, 'caId', ?::text, 'partition', partition, 'reason', 'keyCompromise') from revoked
       returning (payload->>'partition')::int as partition`,
      [caId, REVOKED_LATER_PER_PARTITION, caId],
    );
    const fullTimings = timings.splice(0);
    t = performance.now();
    const tick = await crl.scheduler.tick();
    const deltaRunMs = performance.now() - t;
    const deltas = tick.partitions.filter((p) => p.outcome === "issued" && p.deltaNumber !== undefined && p.fullNumber === undefined);
    if (deltas.length !== report.partitions.length) problems.push(`delta tick: ${deltas.length} of ${report.partitions.length} partitions issued a delta only`);
    const deltaEntries = deltas.reduce((s, p) => s + (p.deltaEntries ?? 0), 0);
    const revokedLater = new Map<number, number>();
    for (const r of made.rows) revokedLater.set(r.partition, (revokedLater.get(r.partition) ?? 0) + 1);
    for (const p of deltas) {
      if ((p.deltaEntries ?? 0) !== (revokedLater.get(p.partition) ?? 0)) problems.push(`partition ${p.partition}: delta lists ${p.deltaEntries}, ${revokedLater.get(p.partition) ?? 0} revoked after its base`);
    }

    // The coverage check as `npm run cli -- crl check <caId>` runs it (cli/crl-commands.ts): every revoked
    // row against the full + delta CRLs just issued, partition by partition.
    t = performance.now();
    const coverage = await crl.checkCoverage(generations[0]!.id);
    const coverageMs = performance.now() - t;
    if (!coverage.ok) problems.push(`crl check: missing ${coverage.missing}, misplaced ${coverage.misplaced}, unlisted ${coverage.unlisted}, stale ${coverage.stale}, absent ${coverage.absent}`);

    const p0 = await store.publishedDer({ caId: generations[0]!.id, partition: 0 }, "full");
    writeFileSync(join(varDir, "partition-0-full.crl"), p0!.der);
    let fullBytes = 0;
    for (const p of report.partitions) fullBytes += (await store.published(p, "full"))?.size ?? 0;
    return {
      fullRunMs, deltaRunMs, fullEntries: issued.reduce((s, p) => s + (p.fullEntries ?? 0), 0), partitions: report.partitions.length, issued: issued.length,
      deltasIssued: deltas.length, deltaEntries, revokedLater: made.rows.length, partitionFullMs: fullTimings.map((x) => x.ms), partitionDeltaMs: timings.map((x) => x.ms),
      partition0Entries: report.partitions.find((p) => p.partition === 0)?.fullEntries ?? -1, fullBytes,
      peakRssMb: Math.max(peak, process.resourceUsage().maxRSS * 1024) / 2 ** 20,
      coverageMs, coverageRevoked: coverage.revoked, coverageListed: coverage.listed, problems,
    };
  } finally {
    clearInterval(sampler);
    await service.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === here) {
  const i = process.argv.indexOf("--child");
  if (i >= 0) {
    console.log(JSON.stringify(await workerRun(process.argv[i + 1]!, process.argv[i + 2]!)));
    process.exit(0);
  }
  const revoked = process.argv[2] ? Number(process.argv[2]) : undefined;
  if (revoked !== undefined && (!Number.isInteger(revoked) || revoked < 1000)) {
    console.error("usage: npx tsx bench/crl-scale.bench.ts [REVOKED_ENTRIES]  (≥ 1000; default 2000000)");
    process.exit(2);
  }
  try {
    console.log(formatBenchTable(await benchCrlScale(revoked ? { revoked } : {})));
  } catch (e) {
    if (e instanceof BenchFailure) console.log(formatBenchTable(e.results));
    throw e;
  }
}
