/**
 * Raw signatures per second of Pkcs11Signer on SoftHSM (RSA-2048, P-256), beside
 * `openssl speed -seconds 3 -multi 2 rsa2048 ecdsap256` measured in the same run.
 *
 * Two ways of using both cores are measured:
 * - "async pool": one thread, a pool of 4 sessions, 8 signatures in flight; C_Sign runs on the
 *   libuv thread pool (4 threads by default), the event loop stays free.
 * - "2 workers": 2 worker_threads, each with its own Pkcs11Hsm (pool of 2, 4 in flight).
 *
 * Run alone: `npx tsx bench/signer.bench.ts` (prints a table). Uses a throwaway SoftHSM token
 * under ./var/test/softhsm unless given one.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { defaultAlgorithm } from "../ca/profiles/algorithms.js";
import type { KeySpec } from "../ca/types.js";
import { Pkcs11Hsm } from "../hsm/pkcs11-hsm.js";
import { formatBenchTable, withBaseline, type BenchResult } from "./result.js";

export interface BenchToken {
  modulePath: string;
  tokenLabel: string;
  pin: string;
}

export interface BenchSignerOptions {
  /** Seconds per measurement (default 3). */
  seconds?: number;
  /** Token to use; default: a fresh test token (must be created before the library is initialized). */
  token?: BenchToken;
}

interface WorkerJob {
  kind: "signer-bench-worker";
  token: BenchToken;
  uri: string;
  spec: KeySpec;
  seconds: number;
  poolSize: number;
  inFlight: number;
}

const message = randomBytes(1200); // about the size of an end-entity TBSCertificate

/** Signs in a loop with `inFlight` signatures outstanding until `seconds` pass; returns the count. */
async function signFor(sign: (m: Uint8Array) => Promise<Uint8Array>, seconds: number, inFlight: number): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let count = 0;
  const lane = async (): Promise<void> => {
    while (performance.now() < end) {
      await sign(message);
      count++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return count;
}

async function workerMain(job: WorkerJob): Promise<void> {
  const port = parentPort!;
  const hsm = await Pkcs11Hsm.open({ ...job.token, poolSize: job.poolSize });
  try {
    const signer = await hsm.signer(job.uri, defaultAlgorithm(job.spec));
    await signFor((m) => signer.sign(m), 0.2, job.inFlight); // warm-up: sessions open, key handles cached
    port.postMessage({ ready: true });
    await new Promise<void>((resolve) => port.once("message", () => resolve()));
    const started = performance.now();
    const count = await signFor((m) => signer.sign(m), job.seconds, job.inFlight);
    port.postMessage({ count, elapsed: (performance.now() - started) / 1000 });
    // Close only when told: never C_CloseSession while another thread is inside SoftHSM's C_Sign.
    await new Promise<void>((resolve) => port.once("message", () => resolve()));
  } finally {
    await hsm.close(); // not the initializer: leaves the library initialized for the main thread
  }
}

/**
 * Worker entry: tsx's loader hooks do not reach worker_threads on Node 20, so the worker registers
 * them itself (tsx/esm/api) before importing this file.
 */
const workerBootstrap = `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); });`;

/** Signatures/s with 2 worker_threads, started together. */
async function withWorkers(token: BenchToken, uri: string, spec: KeySpec, seconds: number): Promise<number> {
  const job: WorkerJob = { kind: "signer-bench-worker", token, uri, spec, seconds, poolSize: 2, inFlight: 4 };
  const workers = [0, 1].map(() => new Worker(workerBootstrap, { eval: true, workerData: job }));
  const exits = workers.map((w) => new Promise((resolve) => w.once("exit", resolve)));
  for (const w of workers) w.on("error", () => undefined); // reported through `next` below; never unhandled
  const next = (w: Worker): Promise<{ ready?: boolean; count?: number; elapsed?: number }> =>
    new Promise((resolve, reject) => {
      w.once("message", resolve);
      w.once("error", reject);
    });
  try {
    await Promise.all(workers.map(next));
    const results = workers.map(next);
    for (const w of workers) w.postMessage("go");
    const done = await Promise.all(results);
    return done.reduce((sum, r) => sum + (r.count ?? 0) / (r.elapsed ?? seconds), 0);
  } finally {
    for (const [i, w] of workers.entries()) {
      // One after the other, each once every signature has finished.
      w.postMessage("close");
      const timer = setTimeout(() => void w.terminate(), 10_000);
      await exits[i];
      clearTimeout(timer);
    }
  }
}

/** `openssl speed -seconds N -multi 2 rsa2048 ecdsap256`: sign/s for both. */
export async function opensslSpeed(seconds: number): Promise<{ rsa2048: number; p256: number }> {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn("openssl", ["speed", "-seconds", String(Math.max(1, Math.round(seconds))), "-multi", "2", "rsa2048", "ecdsap256"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    child.stdout.on("data", (d: Buffer) => (text += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(text) : reject(new Error(`openssl speed exited with ${code}`))));
  });
  // "rsa 2048 bits 0.000152s 0.000010s   6587.0 100000.0" and
  // " 256 bits ecdsa (nistp256)   0.0000s   0.0001s  90725.0  27000.0": the third number is sign/s.
  const rsa = /^rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)/m.exec(out);
  const ec = /^\s*256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)/m.exec(out);
  if (!rsa?.[1] || !ec?.[1]) throw new Error(`cannot parse openssl speed output:\n${out}`);
  return { rsa2048: Number(rsa[1]), p256: Number(ec[1]) };
}

async function defaultToken(): Promise<BenchToken> {
  const { createTestToken } = await import("../test/support/softhsm.js");
  return createTestToken("bench");
}

/** Raw sign/s of one key in the token: one thread with an async pool of 4 sessions, and 2 worker_threads. */
export interface SignRates {
  asyncPool: number;
  workers: number;
}

/** Measures one key (found by label, or generated) of an open Pkcs11Hsm; about 2 × `seconds`. */
async function measureKey(hsm: Pkcs11Hsm, token: BenchToken, label: string, spec: KeySpec, seconds: number): Promise<SignRates> {
  const uri = (await hsm.findKey(label))?.uri ?? (await hsm.generateKey(label, spec)).uri;
  const signer = await hsm.signer(uri, defaultAlgorithm(spec));
  await signFor((m) => signer.sign(m), 0.2, 8); // warm-up
  const started = performance.now();
  const count = await signFor((m) => signer.sign(m), seconds, 8);
  const asyncPool = count / ((performance.now() - started) / 1000);
  return { asyncPool, workers: await withWorkers(token, uri, spec, seconds) };
}

/**
 * Raw Pkcs11Signer rates of one key spec on `token` (opens and closes the library: call it before
 * anything else in this process initialises SoftHSM, or after it closed). Used by the issuance benchmark
 * for its same-run baseline.
 */
export async function rawSignRates(token: BenchToken, spec: KeySpec, seconds = 3): Promise<SignRates> {
  const hsm = await Pkcs11Hsm.open({ ...token, poolSize: 4 });
  try {
    return await measureKey(hsm, token, `raw-${spec.type === "rsa" ? `rsa${spec.bits}` : spec.curve}`, spec, seconds);
  } finally {
    await hsm.close();
  }
}

/** Runs the benchmark; about 6 × `seconds` for SoftHSM plus 4 × `seconds` for openssl. */
export async function benchSigner(options: BenchSignerOptions = {}): Promise<BenchResult[]> {
  const seconds = options.seconds ?? 3;
  const token = options.token ?? (await defaultToken());
  const hsm = await Pkcs11Hsm.open({ ...token, poolSize: 4 });
  const measured: Array<{ key: "rsa2048" | "p256"; name: string; value: number }> = [];
  try {
    const keys: Array<{ key: "rsa2048" | "p256"; label: string; spec: KeySpec; name: string }> = [
      { key: "rsa2048", label: "bench-rsa2048", spec: { type: "rsa", bits: 2048 }, name: "RSA-2048" },
      { key: "p256", label: "bench-p256", spec: { type: "ec", curve: "P-256" }, name: "P-256" },
    ];
    for (const k of keys) {
      const rates = await measureKey(hsm, token, k.label, k.spec, seconds);
      measured.push({ key: k.key, name: `Pkcs11Signer ${k.name} sign, 1 thread, async pool x4`, value: rates.asyncPool });
      measured.push({ key: k.key, name: `Pkcs11Signer ${k.name} sign, 2 worker_threads`, value: rates.workers });
    }
  } finally {
    await hsm.close();
  }
  const openssl = await opensslSpeed(seconds);
  const baselineName = { rsa2048: "openssl speed -multi 2 rsa2048", p256: "openssl speed -multi 2 ecdsap256" };
  return measured.map((m) => withBaseline(m.name, m.value, "sig/s", { name: baselineName[m.key], value: openssl[m.key] }));
}

if (!isMainThread && (workerData as WorkerJob | undefined)?.kind === "signer-bench-worker") {
  await workerMain(workerData as WorkerJob);
} else if (isMainThread && process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(formatBenchTable(await benchSigner()));
}
