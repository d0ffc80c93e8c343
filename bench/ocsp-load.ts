/**
 * The load generator of bench/ocsp.bench.ts, run as its own process (so that it never shares an event
 * loop with the responder it measures, and can run inside the network namespace of `openssl ocsp`):
 *
 *   node --import tsx bench/ocsp-load.ts <job.json>
 *
 * Job: autocannon against `origin`, either GET over a list of paths (one request per line of
 * `pathsFile`, each connection cycling through them from its own offset) or POST of OCSP requests
 * with a fresh random nonce each (`nonceTemplateHex`: the request DER, whose last 16 octets are the
 * nonce). A response only counts when it is an OCSP response with status successful (error
 * responses are 5 octets): `tryLater` under load is not a response served.
 * Prints one JSON line: { ok, rate, p50, p99, errors, non2xx, mismatches, seconds }.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

/** The part of autocannon's API used here (the package ships no types). */
interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: Buffer;
  setupRequest?: (req: AutocannonRequest) => AutocannonRequest;
}
interface AutocannonResult {
  "2xx": number;
  non2xx: number;
  errors: number;
  timeouts: number;
  mismatches: number;
  latency: { p50: number; p99: number };
}
type Autocannon = (opts: {
  url: string;
  connections: number;
  duration: number;
  requests: AutocannonRequest[];
  verifyBody: (body: string) => boolean;
  timeout: number;
}) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

export interface LoadJob {
  readonly origin: string;
  readonly mode: "get" | "nonce";
  readonly pathsFile?: string;
  readonly nonceTemplateHex?: string;
  readonly postPath?: string;
  readonly seconds: number;
  readonly connections: number;
  readonly headers?: Record<string, string>;
}

export interface LoadResult {
  readonly ok: number;
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly non2xx: number;
  readonly mismatches: number;
  readonly seconds: number;
}

async function run(job: LoadJob): Promise<LoadResult> {
  const headers = job.headers ?? {};
  let requests: AutocannonRequest[];
  if (job.mode === "get") {
    const paths = readFileSync(job.pathsFile!, "utf8").split("\n").filter(Boolean);
    requests = paths.map((path) => ({ method: "GET", path, headers }));
  } else {
    const template = Buffer.from(job.nonceTemplateHex!, "hex");
    requests = [
      {
        method: "POST",
        path: job.postPath ?? "/",
        headers: { ...headers, "content-type": "application/ocsp-request" },
        setupRequest: (req) => {
          const body = Buffer.from(template);
          randomBytes(16).copy(body, body.length - 16);
          return { ...req, body };
        },
      },
    ];
  }
  const result = await autocannon({
    url: job.origin,
    connections: job.connections,
    duration: job.seconds,
    requests,
    // Error responses (malformedRequest, tryLater …) are `30 03 0A 01 0n`: 5 octets.
    verifyBody: (body) => body.length > 16,
    timeout: 10,
  });
  const ok = result["2xx"] - result.mismatches;
  return {
    ok,
    rate: ok / job.seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    mismatches: result.mismatches,
    seconds: job.seconds,
  };
}

const jobFile = process.argv[2];
if (jobFile && process.argv[1]?.endsWith("ocsp-load.ts")) {
  const r = await run(JSON.parse(readFileSync(jobFile, "utf8")) as LoadJob);
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
