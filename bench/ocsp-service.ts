/**
 * OCSP GET through the service as `npm start` runs it, with CA_WORKERS processes sharing the listener:
 * the deployment the targets are about. Part of bench/ocsp.bench.ts.
 *
 * A fresh database and SoftHSM token; the service in a child process (key ceremony, then serve) with
 * `crl.access: public` (as the openssl baseline: no API key); `certificates` auth certificates recorded
 * valid with a `certificate.issued` outbox row each, so the leader pre-signs them as it does at
 * issuance; then wrk over their GET URLs (CertIDs built from the CA certificate the service publishes),
 * twice at each connection count, the best run reported (as the openssl baseline is its best run).
 * CPU per response: the supervisor and its workers, from /proc.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { generateSerial, partitionOf } from "../ca/issuance/serial.js";
import { buildRequest, certIdUnder } from "../test/unit/ocsp/fixtures.js";
import type { TestToken } from "../test/support/softhsm.js";
import { runWrk, type LoadResult } from "./ocsp-load.js";
import { processTreeCpuSeconds } from "./process-cpu.js";
import { METRICS_AUTHORIZATION, createDatabase, startServiceProcess } from "./service-process.js";

export interface OcspServiceRun {
  readonly workers: number;
  /** wrk connections of the best run. */
  readonly connections: number;
  readonly get: LoadResult & { readonly cpuPerResponse: number };
  readonly presignSeconds: number;
  /** Memory hits among pre-signed lookups during the measured run, over all workers (/metrics). */
  readonly hitRatio: number;
  /**
   * The same service restarted in `registered` mode (the default, docs/api.md §3) on the same database:
   * GET with the demo relying party's API key at the best run's connection count, every answer
   * recorded in ocsp_access_log (`recorded`: rows written during the run, after the last flush).
   */
  readonly registered?: LoadResult & { readonly cpuPerResponse: number; readonly recorded: number };
}

export async function benchOcspThroughService(opts: {
  readonly repoRoot: string;
  readonly postgresUrl: string;
  readonly token: TestToken;
  readonly workers: number;
  readonly certificates: number;
  readonly seconds: number;
  /** wrk connection counts, each measured twice; the best run is the result. */
  readonly connections: readonly number[];
  readonly log: (line: string) => void;
  /** Write a V8 CPU profile of the service (`--cpu-prof`) here when it stops. */
  readonly cpuProfileDir?: string;
}): Promise<OcspServiceRun> {
  const varDir = join(opts.repoRoot, "var/bench/ocsp-service");
  rmSync(varDir, { recursive: true, force: true });
  mkdirSync(varDir, { recursive: true });
  const database = await createDatabase(opts.postgresUrl, "ca_bench_ocsp");
  const cleanups: Array<() => Promise<unknown>> = [() => database.drop()];
  try {
    opts.log(`  service with ${opts.workers} workers: key ceremony, then serve`);
    let service = await startServiceProcess({ varDir, databaseUrl: database.url, token: opts.token, workers: opts.workers, config: { crl: { access: "public" } }, ...(opts.cpuProfileDir ? { cpuProfileDir: opts.cpuProfileDir } : {}) });
    cleanups.unshift(() => service.stop());
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    cleanups.unshift(() => client.end());

    const caDer = new Uint8Array(await (await fetch(`${service.httpUrl}/ca/auth-g1.crt`)).arrayBuffer());
    const random = { bytes: (k: number) => new Uint8Array(randomBytes(k)) };
    const serials = Array.from({ length: opts.certificates }, () => generateSerial(1, random));

    // Recorded as issuance records them, with their outbox rows (which no longer sign anything).
    const now = new Date();
    const started = performance.now();
    for (let i = 0; i < serials.length; i += 1000) {
      const rows = serials.slice(i, i + 1000).map((serial) => ({
        serial,
        partition: partitionOf(serial, 16),
        public_key_sha256: createHash("sha256").update(serial).digest("hex"),
      }));
      await client.query("begin");
      await client.query(
        `insert into certificates (serial, ca_id, kind, status, not_before, not_after, partition, tbs, public_key_sha256, subject_id, recorded, created_at, updated_at)
         select v.serial, 'auth-g1', 'auth', 'valid', $2, $3, v.partition, '\\x3000', v.public_key_sha256, 'bench', '{}', $2, $2
         from jsonb_to_recordset($1::jsonb) as v(serial text, partition int, public_key_sha256 text)`,
        [JSON.stringify(rows), now, new Date(now.getTime() + 365 * 86_400_000)],
      );
      await client.query(
        `insert into outbox (topic, payload) select 'certificate.issued', jsonb_build_object('serial', v.serial, 'caId', 'auth-g1', 'partition', v.partition)
         from jsonb_to_recordset($1::jsonb) as v(serial text, partition int)`,
        [JSON.stringify(rows)],
      );
      await client.query("commit");
    }
    // Responses are signed on their first request (docs/ocsp.md "Demand-driven responses"): ask for each
    // once, 8 at a time (within the live signing gate's queue), so every one is stored before the runs.
    const paths = serials.map((s) => `/ocsp/${encodeURIComponent(Buffer.from(buildRequest([certIdUnder(caDer, s)])).toString("base64"))}`);
    let next = 0;
    const firstRequests = async (): Promise<void> => {
      while (next < paths.length) {
        const path = paths[next++]!;
        for (let attempt = 0; attempt < 20; attempt++) {
          const body = new Uint8Array(await (await fetch(`${service.httpUrl}${path}`)).arrayBuffer());
          if (body.length > 16) break; // a signed answer, not tryLater
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, firstRequests));
    const { rows: storedRows } = await client.query<{ n: string }>("select count(*) as n from ocsp_responses");
    if (Number(storedRows[0]?.n) < serials.length) throw new Error(`only ${storedRows[0]?.n} of ${serials.length} responses stored after their first requests`);
    const presignSeconds = (performance.now() - started) / 1000;
    opts.log(`  service signed ${serials.length} responses on their first requests in ${presignSeconds.toFixed(1)} s`);
    const pathsFile = join(varDir, "paths.txt");
    writeFileSync(pathsFile, paths.join("\n"));
    const job = { origin: service.httpUrl, mode: "get" as const, pathsFile, connections: Math.max(...opts.connections) };
    // Warm-up: JIT, and every worker's memory cache filled from the database. A follower loads a response
    // the first time it is asked for it, and connections are spread over the workers: 8 s at ~20,000/s
    // asks for every URL many times over on every worker (the hit ratio is checked below).
    runWrk({ ...job, seconds: 8 });
    const lookups = async (): Promise<{ hit: number; miss: number }> => {
      const text = await (await fetch(`${service.httpUrl}/metrics`, { headers: METRICS_AUTHORIZATION })).text();
      const count = (result: string): number => Number(new RegExp(`^ca_ocsp_presigned_lookups_total\\{result="${result}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? 0);
      return { hit: count("hit"), miss: count("miss") };
    };
    // Two runs per connection count, the best one counts: the same treatment as the openssl baseline,
    // because this shared 2-core VM moves single runs by ±30 %.
    let best: OcspServiceRun | undefined;
    const runs = opts.connections.flatMap((connections) => [connections, connections]);
    for (const [i, connections] of runs.entries()) {
      const run = i % 2;
      const before = await lookups();
      const cpuBefore = processTreeCpuSeconds(service.pid);
      const r = runWrk({ ...job, connections, seconds: opts.seconds });
      const cpu = processTreeCpuSeconds(service.pid) - cpuBefore;
      const after = await lookups();
      const hits = after.hit - before.hit;
      const hitRatio = hits / Math.max(1, hits + after.miss - before.miss);
      opts.log(`  service, ${connections} conns, run ${run + 1}: ${Math.round(r.rate)}/s, p99 ${r.p99} ms, ${((cpu * 1e6) / Math.max(1, r.ok)).toFixed(0)} µs CPU per response, hit ratio ${hitRatio.toFixed(4)}, wrk ${r.clientCpuPerRequest.toFixed(0)} µs CPU per request`);
      if (!best || r.rate > best.get.rate) best = { workers: opts.workers, connections, presignSeconds, hitRatio, get: { ...r, cpuPerResponse: (cpu * 1e6) / Math.max(1, r.ok) } };
    }
    // Registered mode: the same database and token, restarted (no ceremony: the CAs exist).
    await service.stop();
    service = await startServiceProcess({ varDir, databaseUrl: database.url, token: opts.token, workers: opts.workers, config: { crl: { access: "registered" } } });
    const apiKey = (JSON.parse(readFileSync(join(varDir, "demo/relying-party.json"), "utf8")) as { apiKey: string }).apiKey;
    const registeredJob = { ...job, origin: service.httpUrl, connections: best!.connections, headers: { Authorization: `Bearer ${apiKey}` } };
    runWrk({ ...registeredJob, seconds: 8 });
    await new Promise((r) => setTimeout(r, 1500)); // the access log's last flush of the warm-up
    const rows = async (): Promise<number> => Number((await client.query<{ n: string }>("select count(*) as n from ocsp_access_log")).rows[0]?.n);
    const rowsBefore = await rows();
    const cpuBefore = processTreeCpuSeconds(service.pid);
    const r = runWrk({ ...registeredJob, seconds: opts.seconds });
    const cpu = processTreeCpuSeconds(service.pid) - cpuBefore;
    await new Promise((res) => setTimeout(res, 1500));
    const recorded = (await rows()) - rowsBefore;
    const registered = { ...r, cpuPerResponse: (cpu * 1e6) / Math.max(1, r.ok), recorded };
    opts.log(`  service, registered, ${registeredJob.connections} conns: ${Math.round(r.rate)}/s, p99 ${r.p99} ms, ${registered.cpuPerResponse.toFixed(0)} µs CPU per response (PostgreSQL not counted), ${recorded} access records for ${r.ok} answers`);
    return { ...best!, registered };
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
  }
}
