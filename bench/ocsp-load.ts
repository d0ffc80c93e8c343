/**
 * The load generator of bench/ocsp.bench.ts: wrk (a C load generator, Debian package `wrk`, installed by
 * `npm run bench`), run as its own process so that it never shares an event loop with the responder it
 * measures, and so that it can run inside the network namespace of `openssl ocsp`:
 *
 *   node --import tsx bench/ocsp-load.ts <job.json>
 *
 * Job: GET over a list of paths (one request per line of `pathsFile`, each connection cycling through
 * them from its own random offset), or POST of OCSP requests with a fresh random nonce each
 * (`nonceTemplateHex`: the request DER, whose last 16 octets are the nonce). A response only counts
 * when it is HTTP 200 with an OCSP response of more than 16 octets: error responses (`tryLater`,
 * `malformedRequest` …) are 5 octets, and are not responses served.
 *
 * wrk rather than autocannon: autocannon spends about a core at 7,000 requests/s, which on a 2-core
 * machine took half the machine from the responder it measured (the responder did 18,000–21,000/s
 * under wrk against 7,000 under autocannon, same build, same run).
 *
 * Prints one JSON line: { ok, rate, p50, p99, errors, non2xx, mismatches, seconds, clientCpuPerRequest }.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { reapedChildrenCpuSeconds } from "./process-cpu.js";

export interface LoadJob {
  readonly origin: string;
  readonly mode: "get" | "nonce";
  readonly pathsFile?: string;
  readonly nonceTemplateHex?: string;
  readonly postPath?: string;
  readonly seconds: number;
  readonly connections: number;
  /** wrk threads (default 1: on 2 cores the responder needs the rest). */
  readonly threads?: number;
  readonly headers?: Record<string, string>;
}

export interface LoadResult {
  readonly ok: number;
  readonly rate: number;
  /** Latency percentiles, ms. */
  readonly p50: number;
  readonly p99: number;
  /** Socket errors: connect, read, write, timeout. */
  readonly errors: number;
  readonly non2xx: number;
  /** HTTP 200 whose body is not an OCSP response with content (an error status). */
  readonly mismatches: number;
  readonly seconds: number;
  /** The load generator's own CPU time per request, µs (it shares the machine with the responder). */
  readonly clientCpuPerRequest: number;
}

/** A Lua string literal of these bytes, every byte a decimal escape. */
const luaBytes = (b: Uint8Array): string => `"${[...b].map((x) => `\\${x}`).join("")}"`;
const luaString = (s: string): string => luaBytes(Buffer.from(s, "utf8"));

/** The wrk script: requests, the body check, and a JSON summary from `done`. */
export function wrkScript(job: LoadJob): string {
  const headers = Object.entries(job.headers ?? {}).map(([k, v]) => `[${luaString(k)}] = ${luaString(v)}`);
  const common = `
local threads = {}
function setup(thread) table.insert(threads, thread) end
bad = 0
non2xx = 0
function response(status, hdrs, body)
  if status ~= 200 then non2xx = non2xx + 1 elseif #body <= 16 then bad = bad + 1 end
end
function done(summary, latency, requests)
  local b, n = 0, 0
  for _, t in ipairs(threads) do b = b + t:get("bad"); n = n + t:get("non2xx") end
  local e = summary.errors
  io.write(string.format('{"requests":%d,"micros":%d,"p50":%d,"p99":%d,"errors":%d,"non2xx":%d,"bad":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, n, b))
end
`;
  if (job.mode === "get") {
    return `${common}
local paths = {}
for line in io.lines(${luaString(job.pathsFile!)}) do if #line > 0 then paths[#paths + 1] = line end end
local hdrs = { ${headers.join(", ")} }
local requests = {}
local i = 0
-- Every request formatted once per thread (wrk's advice: request() runs for every request, and
-- formatting there costs the load generator CPU that the responder on the same 2 cores then lacks).
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16)); i = math.random(#paths)
  for k = 1, #paths do requests[k] = wrk.format("GET", paths[k], hdrs) end
end
function request()
  i = i % #paths + 1
  return requests[i]
end
`;
  }
  const template = Buffer.from(job.nonceTemplateHex!, "hex");
  return `${common}
local prefix = ${luaBytes(template.subarray(0, template.length - 16))}
local hdrs = { ${[...headers, `["Content-Type"] = "application/ocsp-request"`].join(", ")} }
local path = ${luaString(job.postPath ?? "/")}
function init(args) math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16)) end
function request()
  local nonce = {}
  for k = 1, 16 do nonce[k] = string.char(math.random(0, 255)) end
  return wrk.format("POST", path, hdrs, prefix .. table.concat(nonce))
end
`;
}

interface WrkSummary {
  requests: number;
  micros: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  bad: number;
}

export function runWrk(job: LoadJob): LoadResult {
  const dir = mkdtempSync(join(tmpdir(), "ocsp-load-"));
  try {
    const script = join(dir, "load.lua");
    writeFileSync(script, wrkScript(job));
    const cpuBefore = reapedChildrenCpuSeconds();
    const r = spawnSync("wrk", ["-t", String(job.threads ?? 1), "-c", String(job.connections), "-d", `${job.seconds}s`, "--timeout", "10s", "-s", script, job.origin], {
      encoding: "utf8",
      timeout: (job.seconds + 30) * 1000,
    });
    if (r.error) throw new Error(`wrk could not run (${r.error.message}); install it: apt-get install wrk`);
    const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
    if (r.status !== 0 || !line) throw new Error(`wrk failed (${r.status}): ${r.stderr.slice(-500)} ${r.stdout.slice(-500)}`);
    const clientCpu = reapedChildrenCpuSeconds() - cpuBefore;
    const s = JSON.parse(line) as WrkSummary;
    const seconds = s.micros / 1e6;
    const ok = s.requests - s.non2xx - s.bad;
    return { ok, rate: ok / seconds, p50: s.p50 / 1000, p99: s.p99 / 1000, errors: s.errors, non2xx: s.non2xx, mismatches: s.bad, seconds, clientCpuPerRequest: (clientCpu * 1e6) / Math.max(1, s.requests) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const jobFile = process.argv[2];
if (jobFile && process.argv[1]?.endsWith("ocsp-load.ts")) {
  const r = runWrk(JSON.parse(readFileSync(jobFile, "utf8")) as LoadJob);
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
