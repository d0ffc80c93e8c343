/**
 * The `openssl ocsp -index … -multi 2` baseline shared by bench/ocsp.bench.ts (10,000 fresh certificates)
 * and bench/scale.bench.ts (the seeded population, bench/scale-openssl.ts): its files (CA certificates, a
 * software P-256 responder key with a responder certificate issued by the real CA, the index) and one
 * measured run.
 *
 * openssl's responder binds every interface and its -multi children spin after keep-alive clients leave
 * (docs/traps.md §5), so it runs inside `unshare -n` (a network namespace with only its own loopback),
 * with its load generator (bench/ocsp-load.ts: wrk) in the same namespace, under `timeout`, and is killed
 * by PID. Without `unshare` (not root) the callers skip it and say so.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildOcspResponderCertificate } from "../ca/profiles/ocsp-responder-certificate.js";
import type { Signer } from "../ca/ports.js";
import type { CaId } from "../ca/types.js";
import { pem } from "../ca/x509/pem.js";
import { MemorySigner } from "../hsm/memory-signer.js";
import type { LoadJob, LoadResult } from "./ocsp-load.js";
import { processAlive } from "./process-cpu.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const loadScript = join(repoRoot, "bench/ocsp-load.ts");

/** Whether `unshare -n` works here (root or user namespaces). */
export function unshareAvailable(): boolean {
  try {
    execFileSync("unshare", ["-n", "true"], { stdio: "ignore", timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/** The CA that issues openssl's responder certificate (its key: the real CA key, in SoftHSM or in memory). */
export interface ResponderIssuer {
  readonly caId: CaId;
  readonly caCertificate: Uint8Array;
  readonly caSigner: Signer;
}

/**
 * openssl's responder files in `dir`: openssl-ca.pem (every CA certificate the index answers for: openssl
 * matches each request's issuer against them), a software P-256 responder key and its certificate issued
 * by `issuer`. The index (index.txt) is written by the caller.
 */
export async function writeOpensslResponderFiles(dir: string, issuer: ResponderIssuer, caCertificates: readonly Uint8Array[] = [issuer.caCertificate]): Promise<void> {
  const key = MemorySigner.generate({ type: "ec", curve: "P-256" });
  const responderCert = await buildOcspResponderCertificate({
    caId: issuer.caId,
    caCertificate: issuer.caCertificate,
    caSigner: issuer.caSigner,
    responderPublicKey: key.publicKey,
    serial: 0x0777n,
    notBefore: new Date(Date.now() - 3600_000),
    validityDays: 30,
  });
  writeFileSync(join(dir, "openssl-ca.pem"), caCertificates.map((c) => pem(c, "CERTIFICATE")).join(""));
  writeFileSync(join(dir, "openssl-responder.pem"), pem(responderCert, "CERTIFICATE"));
  writeFileSync(join(dir, "openssl-responder.key"), key.keyObject.export({ type: "pkcs8", format: "pem" }) as string, { mode: 0o600 });
}

/** index.txt of valid certificates: status, expiry (UTCTime), revocation (empty), serial (upper-case hex), file, subject. */
export function writeValidIndex(dir: string, serials: readonly string[]): void {
  writeFileSync(join(dir, "index.txt"), serials.map((s, i) => `V\t351231235959Z\t\t${s.toUpperCase()}\tunknown\t/CN=bench-${i}\n`).join(""));
}

/** A load result with the responder's CPU time per response (µs). */
export type MeasuredLoad = LoadResult & { readonly cpuPerResponse: number };

/** openssl's run: also its index load time and its memory. */
export type OpensslLoad = MeasuredLoad & {
  /** Seconds from spawning `openssl ocsp` until it answered a first GET (index read and hashed). */
  readonly loadSeconds: number;
  /** VmRSS of the parent once ready (the index; its -multi children share it copy-on-write), or the most seen while loading, KiB. */
  readonly parentRssKb: number;
  /** VmRSS of the parent and its children summed (shared pages counted in each), KiB. */
  readonly totalRssKb: number;
  /** False when openssl had not answered within `loadTimeoutSeconds` (or died loading): no load was run, the counts are 0. */
  readonly ready: boolean;
};

export interface OpensslRunOptions {
  /** Holds openssl-ca.pem, openssl-responder.{pem,key} and index.txt; the run's own files go there too. */
  readonly dir: string;
  /** GET paths as openssl serves them ("/<base64 request>", no "/ocsp" prefix). */
  readonly pathsFile: string;
  readonly seconds: number;
  readonly connections: number;
  /** Longest wait for the index to load before the run is given up (default 60 s). */
  readonly loadTimeoutSeconds?: number;
}

/**
 * One run of `openssl ocsp -index … -multi 2` inside `unshare -n`, loaded by the same generator in the
 * same namespace; a fresh responder per run (its children stop answering once keep-alive clients have
 * left). The run starts once a first GET (the first path of the file) is answered: the time until then is
 * the index load time, and the processes' VmRSS is read at that moment. Its CPU time (parent, children,
 * reaped children) is read from /proc before it is killed. Every process started there is killed by PID,
 * also when the run times out.
 */
export async function runOpensslBaseline(opts: OpensslRunOptions): Promise<OpensslLoad> {
  const f = (name: string): string => join(opts.dir, name);
  const port = 18888;
  const loadTimeout = opts.loadTimeoutSeconds ?? 60;
  const job: LoadJob = { origin: `http://127.0.0.1:${port}`, mode: "get", pathsFile: opts.pathsFile, seconds: opts.seconds, connections: opts.connections };
  writeFileSync(f("openssl-job.json"), JSON.stringify(job));
  const probe = readFileSync(opts.pathsFile, "utf8").slice(0, 4096).split("\n")[0] ?? "/";
  const pidFile = f("openssl.pids");
  const resultFile = f("openssl-result.json");
  const cpuFile = f("openssl-cpu-ticks");
  const readyFile = f("openssl-ready");
  for (const file of [pidFile, resultFile, cpuFile, readyFile]) writeFileSync(file, "");
  const q = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;
  const script = `
    set -u
    ip link set lo up
    T0=$(date +%s.%N)
    openssl ocsp -index ${q(f("index.txt"))} -port ${port} -rsigner ${q(f("openssl-responder.pem"))} -rkey ${q(f("openssl-responder.key"))} \\
      -CA ${q(f("openssl-ca.pem"))} -ndays 1 -multi 2 -ignore_err > ${q(f("openssl.log"))} 2>&1 &
    OPID=$!
    echo "$OPID" > ${q(pidFile)}
    DEADLINE=$(( $(date +%s) + ${loadTimeout} ))
    PEAK=0
    until [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' ${q(`http://127.0.0.1:${port}${probe}`)})" = 200 ]; do
      R=$(awk '/^VmRSS/ {print $2}' /proc/$OPID/status 2>/dev/null); [ "\${R:-0}" -gt "$PEAK" ] && PEAK=$R
      if [ "$(date +%s)" -ge "$DEADLINE" ] || ! kill -0 $OPID 2>/dev/null; then break; fi
      sleep 0.1
    done
    T1=$(date +%s.%N)
    KIDS="$(pgrep -P $OPID | tr '\\n' ' ')"
    echo "$OPID $KIDS" > ${q(pidFile)}
    PRSS=$(awk '/^VmRSS/ {print $2}' /proc/$OPID/status 2>/dev/null); PRSS=\${PRSS:-0}; [ "$PEAK" -gt "$PRSS" ] && PRSS=$PEAK
    TRSS=$PRSS
    for p in $KIDS; do TRSS=$((TRSS + $(awk '/^VmRSS/ {print $2}' /proc/$p/status 2>/dev/null || echo 0))); done
    READY=0
    if [ "$(date +%s)" -lt "$DEADLINE" ] && kill -0 $OPID 2>/dev/null; then READY=1; fi
    echo "$(echo "$T1 - $T0" | bc) \${PRSS:-0} \${TRSS:-0} $READY" > ${q(readyFile)}
    if [ "$READY" = 1 ]; then
      timeout -s KILL ${opts.seconds + 30} ${q(process.execPath)} --import tsx ${q(loadScript)} ${q(f("openssl-job.json"))} > ${q(resultFile)} 2>> ${q(f("openssl.log"))}
    fi
    KIDS="$(pgrep -P $OPID | tr '\\n' ' ')"
    echo "$KIDS" >> ${q(pidFile)}
    CPU=$(awk '{print $14+$15+$16+$17}' /proc/$OPID/stat)
    for p in $KIDS; do [ -r /proc/$p/stat ] && CPU=$((CPU + $(awk '{print $14+$15}' /proc/$p/stat))); done
    echo "$CPU $(getconf CLK_TCK)" > ${q(cpuFile)}
    kill -TERM $OPID $KIDS 2>/dev/null
    sleep 0.5
    kill -KILL $OPID $KIDS 2>/dev/null
    wait $OPID 2>/dev/null
    exit 0
  `;
  const child = spawn("timeout", ["-s", "KILL", String(opts.seconds + 60 + loadTimeout), "unshare", "-n", "bash", "-c", script], { cwd: repoRoot, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((r) => child.on("close", () => r()));
  // Whatever happened inside, no openssl process of ours outlives the run.
  for (const pid of readFileSync(pidFile, "utf8").split(/\s+/).filter(Boolean).map(Number)) {
    if (Number.isInteger(pid) && pid > 1 && processAlive(pid)) process.kill(pid, "SIGKILL");
  }
  const [loadSeconds, parentRssKb, totalRssKb, ready] = readFileSync(readyFile, "utf8").trim().split(/\s+/).map(Number);
  const loading = { loadSeconds: loadSeconds ?? NaN, parentRssKb: parentRssKb ?? NaN, totalRssKb: totalRssKb ?? NaN };
  if (ready === 0) return { ok: 0, rate: 0, p50: NaN, p99: NaN, errors: 0, non2xx: 0, mismatches: 0, seconds: 0, clientCpuPerRequest: NaN, cpuPerResponse: NaN, ...loading, ready: false };
  const line = readFileSync(resultFile, "utf8").trim();
  if (!line.startsWith("{")) {
    const log = existsSync(f("openssl.log")) ? readFileSync(f("openssl.log"), "utf8").slice(-800) : "";
    throw new Error(`openssl baseline produced no result (index loaded in ${loading.loadSeconds.toFixed(1)} s): ${stderr.slice(-300)} ${log}`);
  }
  const result = JSON.parse(line) as LoadResult;
  const [ticks, hz] = readFileSync(cpuFile, "utf8").trim().split(/\s+/).map(Number);
  const cpuPerResponse = ticks !== undefined && hz ? (ticks / hz) * 1e6 / Math.max(1, result.ok) : NaN;
  return { ...result, cpuPerResponse, ...loading, ready: true };
}
