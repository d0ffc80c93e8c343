/**
 * `npm run bench`: every benchmark in sequence, then one table of every figure beside its baseline
 * measured in the same run (docs/api.md §1, docs/design.md §1: bench/).
 *
 *   npm run bench                      # all (about 2–3 minutes; the first run also builds the card key pool)
 *   npm run bench -- --only issuance   # one of: signer, tbs, issuance, crl, ocsp, events, scale, ocsp-first, crl-scale
 *
 * Progress goes to stderr, the table to stdout. Exits 1 when a benchmark fails (the table still shows
 * what was measured), 2 on a bad argument. Targets are shown as met/MISSED and never fail the run.
 * Each benchmark module is imported only when it runs, so one that does not load fails alone.
 */
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { BenchFailure, formatBenchTable, type BenchResult } from "./result.js";

interface Benchmark {
  readonly name: string;
  readonly about: string;
  run(): Promise<BenchResult[]>;
}

const benchmarks: readonly Benchmark[] = [
  { name: "signer", about: "raw PKCS#11 signatures/s on SoftHSM vs openssl speed", run: async () => (await import("./signer.bench.js")).benchSigner() },
  { name: "tbs", about: "TBSCertificate encodings/s: DER template vs pkijs", run: async () => (await import("./tbs.bench.js")).benchTbs() },
  { name: "issuance", about: "pair issuances over HTTPS + PostgreSQL + SoftHSM vs the raw signer", run: async () => (await import("./issuance.bench.js")).benchIssuance() },
  { name: "crl", about: "partition CRL build + sign vs openssl ca -gencrl", run: async () => (await import("./crl.bench.js")).benchCrl() },
  { name: "ocsp", about: "OCSP responder throughput vs openssl ocsp", run: async () => (await import("./ocsp.bench.js")).benchOcsp() },
  { name: "events", about: "resident events from NATS JetStream into PostgreSQL vs raw row inserts", run: async () => (await import("./events.bench.js")).benchEvents() },
  { name: "scale", about: "seeded population at 100k and 1M certificates: size, plans, SQL reads, issuance and OCSP over HTTP (npx tsx bench/scale.bench.ts SIZES…)", run: async () => (await import("./scale.bench.js")).benchScale() },
  { name: "ocsp-first", about: "OCSP first requests in process: read, sign, verify, store, re-read vs the raw responder key", run: async () => (await import("./ocsp-first-request.bench.js")).benchOcspFirstRequest() },
  { name: "crl-scale", about: "complete CRL run (full + delta, every partition) of a generation holding 2M revoked entries (npx tsx bench/crl-scale.bench.ts REVOKED)", run: async () => (await import("./crl-scale.bench.js")).benchCrlScale() },
];

function machine(): string {
  const cpu = cpus();
  return `${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores; Node ${process.version}; ${new Date().toISOString()}`;
}

async function main(): Promise<number> {
  let values: { only?: string | undefined };
  try {
    ({ values } = parseArgs({ options: { only: { type: "string" } } }));
  } catch (e) {
    console.error(`${(e as Error).message}\nusage: npm run bench [-- --only ${benchmarks.map((b) => b.name).join("|")}]`);
    return 2;
  }
  const selected = values.only ? benchmarks.filter((b) => b.name === values.only) : benchmarks;
  if (selected.length === 0) {
    console.error(`unknown benchmark "${values.only}"; one of: ${benchmarks.map((b) => `${b.name} (${b.about})`).join(", ")}`);
    return 2;
  }
  const results: BenchResult[] = [];
  const failures: string[] = [];
  const started = performance.now();
  for (const b of selected) {
    console.error(`== ${b.name}: ${b.about}`);
    const t = performance.now();
    try {
      results.push(...(await b.run()));
    } catch (e) {
      if (e instanceof BenchFailure) results.push(...e.results);
      failures.push(`${b.name}: ${(e as Error).stack ?? String(e)}`);
    }
    console.error(`== ${b.name}: ${((performance.now() - t) / 1000).toFixed(0)} s`);
  }
  console.log(`\n${machine()}; total ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  console.log(formatBenchTable(results));
  for (const f of failures) console.error(`\nFAILED ${f}`);
  return failures.length > 0 ? 1 : 0;
}

process.exit(await main());
