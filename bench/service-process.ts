/**
 * The CA service under benchmark, run as `npm start` runs it (`cli/main.ts start`: key ceremony when no
 * CA exists, then serve) but in a child process of its own, so that it has its own event loop, its own
 * SOFTHSM2_CONF and its own PKCS#11 initialisation, and can be profiled with `--cpu-prof`.
 *
 * Everything it generates goes under `varDir`; it listens on 127.0.0.1 ephemeral ports; stdout and
 * stderr go to `<varDir>/service.log`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export interface ServiceProcessOptions {
  /** Generated state of this service (TLS material, demo credentials, log); should be fresh. */
  readonly varDir: string;
  /** postgres://… of the service's own (fresh) database. */
  readonly databaseUrl: string;
  /** The SoftHSM token: made before anything in the child initialises the library. */
  readonly token: { readonly modulePath: string; readonly tokenLabel: string; readonly pin: string; readonly confPath: string };
  /** Write a V8 CPU profile (`--cpu-prof`) into this directory when the service stops. */
  readonly cpuProfileDir?: string;
  /** Settings over config/default.json (e.g. `{ crl: { access: "public" } }`), written to `<varDir>/config.json`. */
  readonly config?: Record<string, unknown>;
  /** Service processes (CA_WORKERS; default 1). */
  readonly workers?: number;
  /** Seconds to wait for "serving …" (default 180: the ceremony generates RSA keys in SoftHSM). */
  readonly startTimeoutSeconds?: number;
}

export interface ServiceProcess {
  readonly httpUrl: string;
  readonly httpsUrl: string;
  readonly pid: number;
  readonly logFile: string;
  /** performance.now() when the process was spawned (≈ time 0 of its CPU profile). */
  readonly spawnedAt: number;
  /** SIGTERM (the service closes its listeners, pool and HSM; a CPU profile is written), SIGKILL after 30 s. */
  stop(): Promise<void>;
}

/** The metrics scrape token of a service started here (never a production secret). */
export const SERVICE_METRICS_TOKEN = "bench-metrics-scrape-token";
/** The header a scrape of `<httpUrl>/metrics` of such a service carries. */
export const METRICS_AUTHORIZATION: Readonly<Record<string, string>> = Object.freeze({ Authorization: `Bearer ${SERVICE_METRICS_TOKEN}` });

/**
 * The environment the service runs with (and a CLI command run beside it, on the same database,
 * token and var dir). Writes `<varDir>/config.json` when `opts.config` is given.
 */
export function serviceEnv(opts: Pick<ServiceProcessOptions, "varDir" | "databaseUrl" | "token" | "config" | "workers">): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CA_VAR_DIR: opts.varDir,
    CA_MODE: "demo",
    DATABASE_URL: opts.databaseUrl,
    SOFTHSM2_CONF: opts.token.confPath,
    CA_HSM_MODULE: opts.token.modulePath,
    CA_HSM_TOKEN_LABEL: opts.token.tokenLabel,
    CA_HSM_PIN: opts.token.pin,
    CA_HTTP_HOST: "127.0.0.1",
    CA_HTTPS_HOST: "127.0.0.1",
    CA_HTTP_PORT: "0",
    CA_HTTPS_PORT: "0",
    // /metrics is not on the public port (issue 12): a free port for the metrics listener, and a scrape
    // token so that the benchmarks and tests scrape the public listener they know (METRICS_AUTHORIZATION).
    CA_METRICS_PORT: "0",
    CA_METRICS_TOKEN: SERVICE_METRICS_TOKEN,
    CA_WORKERS: String(opts.workers ?? 1),
  };
  delete env.CA_CONFIG; // the repository's config/default.json, as `npm start` uses it
  if (opts.config) {
    const base = JSON.parse(readFileSync(join(repoRoot, "config/default.json"), "utf8")) as Record<string, unknown>;
    const file = join(opts.varDir, "config.json");
    writeFileSync(file, JSON.stringify({ ...base, ...opts.config }, null, 2));
    env.CA_CONFIG = file;
    env.CA_HOLIDAYS_FILE = join(repoRoot, "config/holidays.json");
  }
  return env;
}

/** Starts the service and resolves once both listeners are up. */
export async function startServiceProcess(opts: ServiceProcessOptions): Promise<ServiceProcess> {
  const logFile = join(opts.varDir, "service.log");
  const fd = openSync(logFile, "a");
  // A restart appends to the same log: only what this process writes counts.
  const offset = statSync(logFile).size;
  const args = [
    "--import",
    "tsx",
    ...(opts.cpuProfileDir ? ["--cpu-prof", "--cpu-prof-dir", opts.cpuProfileDir] : []),
    join(repoRoot, "cli/main.ts"),
    "start",
  ];
  const env = serviceEnv(opts);
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
  try {
    const urls = await waitForServing(child, exited, logFile, offset, (opts.startTimeoutSeconds ?? 180) * 1000);
    return { ...urls, pid: child.pid ?? -1, logFile, spawnedAt, stop: () => stopChild(child, exited) };
  } catch (e) {
    await stopChild(child, exited);
    throw e;
  }
}

async function waitForServing(child: ChildProcess, exited: Promise<number | null>, logFile: string, offset: number, timeoutMs: number): Promise<{ httpUrl: string; httpsUrl: string }> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void exited.then((c) => (exitCode = c ?? -1));
  for (;;) {
    const text = readFileSync(logFile).subarray(offset).toString("utf8");
    const m = /^serving (http:\/\/\S+) .* and (https:\/\/\S+) /m.exec(text);
    if (m?.[1] && m[2]) return { httpUrl: m[1], httpsUrl: m[2] };
    const tail = (): string => text.split("\n").slice(-15).join("\n");
    if (exitCode !== undefined) throw new Error(`the service exited (${exitCode}) before serving; ${logFile}:\n${tail()}`);
    if (Date.now() > deadline) throw new Error(`the service (pid ${child.pid}) did not start serving in time; ${logFile}:\n${tail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  await exited;
  clearTimeout(timer);
}

/** A fresh, empty database `<prefix>_<random>` on the server; `drop` removes it (with force). */
export async function createDatabase(serverUrl: string, prefix: string): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = async (sql: string): Promise<void> => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`create database "${name}"`);
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return { name, url: u.toString(), drop: () => admin(`drop database if exists "${name}" with (force)`) };
}
