import { readFile, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { loadConfig, type Config } from "../../api/config.js";
import { createLogger } from "../../api/logger.js";
import { openService, serve, type Service, type Serving } from "../../api/main.js";
import type { Clock } from "../../ca/ports.js";
import type { OperatorRole } from "../../ca/operators/roles.js";
import { runCeremony, type CeremonyReport } from "../../cli/ceremony.js";
import { openTestDatabase, type TestDatabase, type TestEngine } from "./database.js";
import { requestJson, type ClientCredentials } from "./https-client.js";
import { createTestToken } from "./softhsm.js";

/**
 * A whole service for end-to-end tests, started the way `npm start` does it (config → openService →
 * init ceremony → serve) but with throwaway state: a SoftHSM test token, a var dir under
 * ./var/test/e2e/<name>-<pid>/, a fresh PostgreSQL database (or an in-memory PGlite), and listeners on
 * free ports.
 *
 * SoftHSM trap (test/support/softhsm.ts): the token is created here, so call startTestService in
 * `before()` before anything else in the process has opened a Pkcs11Hsm, and `close()` it in
 * `after()` (that finalizes the library, so the next file can create its token).
 */

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface TestServiceOptions {
  /** 1–20 characters a-z 0-9 -: names the token, the var dir and nothing else. */
  readonly name: string;
  readonly engine: TestEngine;
  /** Only demo mode writes the demo credentials the tests log in with. */
  readonly mode?: "demo";
  /** Level of the captured service log (default "silent"); read it back with `logs()`. */
  readonly logLevel?: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  readonly clock?: Clock;
}

export interface ClientPair {
  /** PEM client certificate. */
  readonly cert: string;
  /** PEM PKCS#8 private key. */
  readonly key: string;
}

export interface DemoCredentials {
  /** PEM trust anchor of the HTTPS listener (var/demo/tls-ca.pem). */
  readonly tlsCa: string;
  readonly terminal: ClientPair;
  readonly admin: ClientPair;
  /** var/demo/operators.json: one ready-to-use operator per role. */
  readonly operators: Readonly<Record<OperatorRole, { readonly operatorId: string; readonly password: string }>>;
}

export interface TestService {
  readonly service: Service;
  readonly config: Config;
  readonly httpUrl: string;
  readonly httpsUrl: string;
  /** The metrics listener (config `metrics.listen`; /metrics is not on the public port). */
  readonly metricsUrl: string;
  readonly demo: DemoCredentials;
  /** What the start-up ceremony created, and the lines it printed. */
  readonly ceremony: CeremonyReport;
  readonly ceremonyLog: readonly string[];
  /** TLS options of a request from the demo terminal, the demo admin workstation, or with no client certificate. */
  tls(client?: "terminal" | "admin" | "none"): ClientCredentials;
  /**
   * Logs the demo operator of `role` in from `client` (default: where the role may work — the terminal
   * for terminal-operator, the admin workstation for the others; ca/operators/workstation-roles.ts); returns the
   * bearer token.
   */
  login(role?: OperatorRole, client?: "terminal" | "admin"): Promise<string>;
  /** Everything the service logged so far (pino NDJSON). */
  logs(): string;
  /** The singleton jobs this node holds (docs/cluster.md). */
  readonly leases: Serving["leases"];
  /** Stops serving only (listeners, background jobs, leases released); the service and database stay until close. Idempotent. */
  stopServing(): Promise<void>;
  /** Closes the listeners and the service, drops the database and removes the var dir. Idempotent. */
  close(): Promise<void>;
}

/** Where an operator of `role` may log in (issue 12: roles are bound to the kind of workstation). */
export const defaultWorkstation = (role: OperatorRole): "terminal" | "admin" => (role === "terminal-operator" ? "terminal" : "admin");

/** A Writable that keeps what pino writes, for assertions on the log. */
class MemoryLog extends Writable {
  readonly chunks: string[] = [];
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(chunk.toString());
    callback();
  }
}

/** Starts a service with its ceremony done and its listeners up. */
export async function startTestService(options: TestServiceOptions): Promise<TestService> {
  const { name, engine } = options;
  if (!/^[a-z0-9][a-z0-9-]{0,19}$/.test(name)) throw new Error("test service name must be 1-20 of a-z 0-9 -");
  // First: SoftHSM must not be initialised in this process yet (createTestToken throws if it is).
  const token = createTestToken(name);
  const varDir = join(repoRoot, "var/test/e2e", `${name}-${process.pid}`);
  await rm(varDir, { recursive: true, force: true }); // a leftover of a recycled pid

  const cleanups: Array<() => Promise<void>> = [() => rm(varDir, { recursive: true, force: true })];
  const runCleanups = async (): Promise<void> => {
    const errors: unknown[] = [];
    while (cleanups.length > 0) {
      const step = cleanups.pop()!;
      await step().catch((e: unknown) => errors.push(e));
    }
    if (errors.length > 0) throw errors[0];
  };

  try {
    let testDb: TestDatabase | undefined;
    if (engine === "postgres") {
      // The service opens its own pool on the URL; this handle only owns the database's life.
      testDb = await openTestDatabase("postgres", { migrate: false });
      const owned = testDb;
      cleanups.push(() => owned.close());
    }
    const env: NodeJS.ProcessEnv = {
      CA_CONFIG: join(repoRoot, "config/default.json"),
      CA_MODE: options.mode ?? "demo",
      CA_VAR_DIR: varDir,
      CA_HSM_MODULE: token.modulePath,
      CA_HSM_TOKEN_LABEL: token.tokenLabel,
      CA_HSM_PIN: token.pin,
      SOFTHSM2_CONF: token.confPath,
      CA_HTTP_PORT: "0",
      CA_HTTPS_PORT: "0",
      CA_METRICS_PORT: "0", // the metrics listener (issue 12), on a free port too
      CA_LOG_LEVEL: options.logLevel ?? "silent",
      ...(testDb?.url ? { DATABASE_URL: testDb.url } : {}),
    };
    const loaded = loadConfig(env, repoRoot);
    // PGlite in memory: nothing on disk to clean, and a few seconds faster than a data directory.
    const config: Config = engine === "pglite" ? Object.freeze({ ...loaded, database: Object.freeze({ url: null, dataDir: "memory://" }) }) : loaded;

    const log = new MemoryLog();
    const logger = createLogger(config.log.level, log);
    const service = await openService(config, { logger, ...(options.clock ? { clock: options.clock } : {}) });
    cleanups.push(() => service.close());

    const ceremonyLog: string[] = [];
    const ceremony = await runCeremony(service, (line) => void ceremonyLog.push(line));
    const listeners: Serving = await serve(service);
    let stopped: Promise<void> | undefined;
    const stopServing = (): Promise<void> => (stopped ??= listeners.close());
    cleanups.push(stopServing);

    const read = (file: string): Promise<string> => readFile(join(config.demoDir, file), "utf8");
    const demo: DemoCredentials = {
      tlsCa: await read("tls-ca.pem"),
      terminal: { cert: await read("terminal.pem"), key: await read("terminal.key") },
      admin: { cert: await read("admin.pem"), key: await read("admin.key") },
      operators: JSON.parse(await read("operators.json")) as DemoCredentials["operators"],
    };

    const tls = (client: "terminal" | "admin" | "none" = "terminal"): ClientCredentials =>
      client === "none" ? { ca: demo.tlsCa } : { ca: demo.tlsCa, cert: demo[client].cert, key: demo[client].key };

    let closed = false;
    return {
      service,
      config,
      httpUrl: listeners.httpUrl,
      httpsUrl: listeners.httpsUrl,
      metricsUrl: listeners.metricsUrl ?? "",
      demo,
      ceremony,
      ceremonyLog,
      tls,
      login: async (role: OperatorRole = "terminal-operator", client: "terminal" | "admin" = defaultWorkstation(role)) => {
        const operator = demo.operators[role];
        const res = await requestJson(`${listeners.httpsUrl}/v1/sessions`, "POST", { operatorId: operator.operatorId, password: operator.password }, tls(client));
        if (res.status !== 201) throw new Error(`login of ${role} failed: ${res.status} ${res.body.toString("utf8")}`);
        return res.json<{ token: string }>().token;
      },
      logs: () => log.chunks.join(""),
      leases: listeners.leases,
      stopServing,
      close: async () => {
        if (closed) return;
        closed = true;
        await runCleanups();
      },
    };
  } catch (e) {
    await runCleanups().catch(() => undefined);
    throw e;
  }
}
