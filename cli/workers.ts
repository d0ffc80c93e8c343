import cluster, { type Worker } from "node:cluster";
import { serveClusterMetrics } from "../api/main.js";
import type { Config } from "../api/config.js";

/**
 * The supervisor of CA_WORKERS > 1 service processes (node:cluster). The workers share the HTTP and
 * HTTPS listeners (the supervisor accepts connections and hands them out in turn); each one opens its
 * own database pool and its own PKCS#11 sessions.
 *
 * - Every worker is a node like any other (docs/cluster.md): the background jobs run under job leases
 *   in the database, each in whichever process of the cluster holds its lease, on this machine or
 *   another; no worker is special.
 * - Worker 1 starts first; the others are forked once it serves, so one-time set-up at start (the
 *   audit checkpoint key in the token) is done by one process.
 * - A worker that dies is replaced after a second (the jobs it held move to another process within
 *   the lease TTL meanwhile); a worker that dies again within 10 s of starting, 5 times in a row,
 *   stops the service (a start-up failure does not loop forever).
 * - SIGTERM/SIGINT: every worker is told to stop (it closes its listeners, pool and HSM sessions); the
 *   supervisor exits when all have.
 * - `/metrics` on any worker serves the aggregate of all (api/cluster-metrics.ts).
 */

interface WorkerReady {
  readonly type: "ca:serving";
  readonly httpUrl: string;
  readonly httpsUrl: string;
}

const RESTART_DELAY_MS = 1000;
const EARLY_DEATH_MS = 10_000;
const MAX_EARLY_DEATHS = 5;

/** True in a worker process of the supervisor. */
export function isWorker(): boolean {
  return cluster.isWorker;
}

/** In a worker: tells the supervisor it serves. */
export function reportServing(httpUrl: string, httpsUrl: string): void {
  process.send?.({ type: "ca:serving", httpUrl, httpsUrl } satisfies WorkerReady);
}

const isReady = (m: unknown): m is WorkerReady => typeof m === "object" && m !== null && (m as { type?: unknown }).type === "ca:serving";

/**
 * In the supervisor: forks the workers and keeps them running until a signal. Resolves with the URLs
 * once every worker serves.
 */
export async function superviseWorkers(config: Pick<Config, "workers">, log: (line: string) => void): Promise<{ httpUrl: string; httpsUrl: string }> {
  serveClusterMetrics();
  const startedAt = new Map<number, number>();
  let earlyDeaths = 0;
  let stopping = false;

  const fork = (): Worker => {
    const worker = cluster.fork();
    startedAt.set(worker.id, Date.now());
    return worker;
  };
  const serving = (worker: Worker): Promise<WorkerReady> =>
    new Promise((resolve, reject) => {
      const onMessage = (m: unknown): void => {
        if (!isReady(m)) return;
        worker.off("message", onMessage);
        worker.off("exit", onExit);
        log(`worker ${worker.id} serving, pid ${worker.process.pid ?? "?"}`);
        resolve(m);
      };
      const onExit = (code: number | null, signal: string | null): void => {
        worker.off("message", onMessage);
        reject(new Error(`worker ${worker.id} exited (${signal ?? code}) before serving`));
      };
      worker.on("message", onMessage);
      worker.once("exit", onExit);
    });

  let ready: WorkerReady;
  try {
    ready = await serving(fork());
    const others = Array.from({ length: config.workers - 1 }, () => fork());
    await Promise.all(others.map(serving));
  } catch (e) {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill("SIGKILL");
    throw e;
  }

  cluster.on("exit", (worker, code, signal) => {
    const started = startedAt.get(worker.id) ?? 0;
    startedAt.delete(worker.id);
    if (stopping) return;
    const lived = Date.now() - started;
    earlyDeaths = lived < EARLY_DEATH_MS ? earlyDeaths + 1 : 0;
    if (earlyDeaths >= MAX_EARLY_DEATHS) {
      log(`worker ${worker.id} died ${MAX_EARLY_DEATHS} times soon after starting; stopping the service`);
      void stopAll(1);
      return;
    }
    log(`worker ${worker.id} exited (${signal ?? code}); starting another in ${RESTART_DELAY_MS} ms`);
    setTimeout(() => {
      if (!stopping) serving(fork()).catch(() => undefined); // its exit is handled here again
    }, RESTART_DELAY_MS);
  });

  const stopAll = async (exitCode: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            const kill = setTimeout(() => w.process.kill("SIGKILL"), 30_000);
            w.once("exit", () => {
              clearTimeout(kill);
              resolve();
            });
            w.process.kill("SIGTERM");
          }),
      ),
    );
    process.exit(exitCode);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping ${config.workers} workers`);
      void stopAll(0);
    });
  }
  return { httpUrl: ready.httpUrl, httpsUrl: ready.httpsUrl };
}
