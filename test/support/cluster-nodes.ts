/**
 * The CA nodes of the cluster test (test/cluster/): one SoftHSM token of its own (a dedicated token
 * directory and SOFTHSM2_CONF, so that nothing depends on the PKCS#11 state of the mocha process),
 * the key ceremony run once by the CLI (`cli/main.ts init`), and N independent `cli/main.ts serve`
 * processes on the same database, token and generated state, each on its own free ports, each with
 * NATS_URL naming every node of the NATS cluster — as an operator would run them on N machines.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { softhsmModulePath } from "./softhsm.js";
import { systemBinary } from "./system-binaries.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Scrape token of the nodes' /metrics (test only). */
const METRICS_TOKEN = "cluster-test-metrics-token";

export interface ClusterToken {
  readonly modulePath: string;
  readonly tokenLabel: string;
  readonly pin: string;
  readonly confPath: string;
}

/** A SoftHSM token under `<dir>/tokens` with its own softhsm2.conf. */
export function createClusterToken(dir: string): ClusterToken {
  const tokens = join(dir, "tokens");
  mkdirSync(tokens, { recursive: true, mode: 0o700 });
  const confPath = join(dir, "softhsm2.conf");
  writeFileSync(confPath, [`directories.tokendir = ${tokens}`, "objectstore.backend = file", "log.level = ERROR", "slots.removable = false", "slots.mechanisms = ALL", "library.reset_on_fork = false", ""].join("\n"));
  const pin = randomBytes(8).toString("hex");
  const tokenLabel = "jpki-cluster-test";
  execFileSync(systemBinary("softhsm2-util"), ["--init-token", "--free", "--label", tokenLabel, "--so-pin", randomBytes(8).toString("hex"), "--pin", pin], {
    env: { ...process.env, SOFTHSM2_CONF: confPath },
    stdio: "ignore",
  });
  return { modulePath: softhsmModulePath, tokenLabel, pin, confPath };
}

export interface ClusterEnvOptions {
  readonly varDir: string;
  readonly databaseUrl: string;
  readonly natsUrl: string;
  readonly token: ClusterToken;
}

/** The environment of a node (and of a CLI command run beside the nodes). */
export function clusterEnv(o: ClusterEnvOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CA_VAR_DIR: o.varDir,
    CA_MODE: "demo",
    DATABASE_URL: o.databaseUrl,
    NATS_URL: o.natsUrl,
    SOFTHSM2_CONF: o.token.confPath,
    CA_HSM_MODULE: o.token.modulePath,
    CA_HSM_TOKEN_LABEL: o.token.tokenLabel,
    CA_HSM_PIN: o.token.pin,
    CA_HTTP_HOST: "127.0.0.1",
    CA_HTTPS_HOST: "127.0.0.1",
    CA_HTTP_PORT: "0",
    CA_HTTPS_PORT: "0",
    CA_METRICS_PORT: "0",
    CA_METRICS_TOKEN: METRICS_TOKEN,
    CA_WORKERS: "1",
    CA_LOG_LEVEL: "warn",
  };
  delete env.CA_CONFIG;
  return env;
}

/** Runs `cli/main.ts <args>` beside the nodes; returns its exit code and output. */
export function runCli(env: NodeJS.ProcessEnv, args: string[], timeoutMs = 180_000): { code: number; output: string } {
  try {
    const output = execFileSync(process.execPath, ["--import", "tsx", join(repoRoot, "cli/main.ts"), ...args], { cwd: repoRoot, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    return { code: 0, output };
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    return { code: err.status ?? -1, output: `${err.stdout ?? ""}${err.stderr ?? ""}` };
  }
}

export interface CaNode {
  readonly name: string;
  readonly httpUrl: string;
  readonly httpsUrl: string;
  readonly pid: number;
  readonly logFile: string;
  readonly alive: boolean;
  /** kill -9. */
  kill(): Promise<void>;
  /** SIGTERM, SIGKILL after 20 s. */
  stop(): Promise<void>;
}

/** Starts `cli/main.ts serve` and resolves once both listeners are up. */
export async function startCaNode(name: string, env: NodeJS.ProcessEnv, logDir: string, timeoutMs = 120_000): Promise<CaNode> {
  const logFile = join(logDir, `${name}.log`);
  const fd = openSync(logFile, "a");
  const offset = statSync(logFile).size;
  const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "cli/main.ts"), "serve"], { cwd: repoRoot, env, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const ended = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const signal = async (sig: NodeJS.Signals, graceMs: number): Promise<void> => {
    if (ended()) return;
    child.kill(sig);
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  };
  try {
    const urls = await waitForServing(child, ended, logFile, offset, timeoutMs);
    return {
      name,
      ...urls,
      pid: child.pid ?? -1,
      logFile,
      get alive() {
        return !ended();
      },
      kill: () => signal("SIGKILL", 10_000),
      stop: () => signal("SIGTERM", 20_000),
    };
  } catch (e) {
    await signal("SIGKILL", 10_000);
    throw e;
  }
}

async function waitForServing(child: ChildProcess, ended: () => boolean, logFile: string, offset: number, timeoutMs: number): Promise<{ httpUrl: string; httpsUrl: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = readFileSync(logFile).subarray(offset).toString("utf8");
    const m = /^serving (http:\/\/\S+) .* and (https:\/\/\S+) /m.exec(text);
    if (m?.[1] && m[2]) return { httpUrl: m[1], httpsUrl: m[2] };
    const tail = (): string => text.split("\n").slice(-15).join("\n");
    if (ended()) throw new Error(`node exited before serving; ${logFile}:\n${tail()}`);
    if (Date.now() > deadline) throw new Error(`node (pid ${child.pid}) did not serve in time; ${logFile}:\n${tail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
