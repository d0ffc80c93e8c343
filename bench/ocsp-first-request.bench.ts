/**
 * The cost of a first request (docs/ocsp.md "Demand-driven responses"), in process: the OCSP service of
 * test/integration/ocsp/ocsp-harness.ts on PostgreSQL (DATABASE_URL or the throwaway server) with its
 * delegated responder key in SoftHSM; N certificates issued and recorded, then each asked once by
 * `concurrency` callers of OcspResponder.answer (no HTTP): each answer reads, signs, verifies, stores and
 * re-reads (in batches). Beside it, in the same run: the same N requests asked again (every answer a
 * memory hit) and the raw rate of the responder key in the token (Signer.sign, same concurrency).
 * Reported: answers/s, p99, and the service's CPU per answer (process.cpuUsage: all of Node's threads).
 * `--cpu-prof` (node's flag) shows where the time goes: `node --import tsx --cpu-prof bench/ocsp-first-request.bench.ts`.
 *
 *   npm run bench -- --only ocsp-first
 *   npx tsx bench/ocsp-first-request.bench.ts [CERTIFICATES] [CONCURRENCY]   (default 4000, 32)
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startOcspEndpoint } from "../test/integration/ocsp/ocsp-harness.js";
import { buildRequest, certIdOf } from "../test/unit/ocsp/fixtures.js";
import { ensurePostgres } from "./postgres-server.js";
import { formatBenchTable, withBaseline, type BenchResult } from "./result.js";

interface Pass {
  readonly rate: number;
  readonly p99: number;
  readonly cpuMsPerOp: number;
}

async function pass(n: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<Pass> {
  const latencies: number[] = [];
  let next = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t = performance.now();
        await op(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  return { rate: n / seconds, p99: latencies[Math.floor(n * 0.99)] ?? 0, cpuMsPerOp: (used.user + used.system) / 1000 / n };
}

export async function benchOcspFirstRequest(options: { certificates?: number; concurrency?: number; log?: (l: string) => void } = {}): Promise<BenchResult[]> {
  const n = options.certificates ?? 4000;
  const concurrency = options.concurrency ?? 32;
  const log = options.log ?? ((l: string) => console.error(l));
  const server = ensurePostgres(log);
  const previousUrl = process.env.DATABASE_URL;
  process.env.DATABASE_URL = server.url;
  const ep = await startOcspEndpoint({ name: "bench-ocsp-first", engine: "postgres", noPemFiles: true, mode: "public" });
  try {
    log(`ocsp-first: issuing ${n.toLocaleString("en-US")} certificates`);
    const serials: string[] = [];
    for (let i = 0; i < n; i++) serials.push((await ep.issue()).serial);
    const requests = serials.map((s) => buildRequest([certIdOf(ep.t, s)]));
    let failed = 0;
    const ask = async (i: number): Promise<void> => {
      if ((await ep.ocsp.responder.answer(requests[i]!)).status !== "successful") failed++;
    };
    const first = await pass(n, concurrency, ask);
    const repeat = await pass(n, concurrency, ask);
    const signer = ep.ocsp.responders.get(ep.t.generation.id)!.responder.signer;
    const tbs = new Uint8Array(300).fill(7);
    const raw = await pass(n, concurrency, () => signer.sign(tbs));
    if (failed > 0) throw new Error(`${failed} answers were not successful`);
    const base = (name: string, value: number) => ({ name, value });
    return [
      withBaseline("first requests (read, sign, verify, store, re-read)", first.rate, "answers/s", base("raw responder-key signatures", raw.rate)),
      withBaseline("first requests p99", first.p99, "ms", base("repeat requests p99 (memory hits)", repeat.p99)),
      withBaseline("first requests: service CPU per answer", first.cpuMsPerOp, "ms", base("raw signature: CPU per signature", raw.cpuMsPerOp)),
      withBaseline("repeat requests (memory hits)", repeat.rate, "answers/s", base("first requests", first.rate)),
    ];
  } finally {
    await ep.close();
    if (previousUrl === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = previousUrl;
    server.release();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const [certificates, concurrency] = process.argv.slice(2).map(Number);
  benchOcspFirstRequest({ ...(certificates ? { certificates } : {}), ...(concurrency ? { concurrency } : {}) })
    .then((r) => console.log(formatBenchTable(r)))
    .catch((e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    });
}
