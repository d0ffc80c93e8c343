import cluster from "node:cluster";
import { AggregatorRegistry, type Registry } from "prom-client";

/**
 * `/metrics` when several service processes share the listeners (CA_WORKERS > 1): a scrape reaches one
 * worker, but must see the whole service. The worker asks the supervisor over the cluster IPC channel;
 * the supervisor collects every worker's registry (prom-client's AggregatorRegistry: counters and
 * histograms summed, gauges summed or per the metric's aggregator) and answers the asking worker.
 */

const REQUEST = "ca:metrics-request";
const ANSWER = "ca:metrics-answer";
const TIMEOUT_MS = 5000;

interface MetricsRequest {
  readonly type: typeof REQUEST;
  readonly id: number;
}
interface MetricsAnswer {
  readonly type: typeof ANSWER;
  readonly id: number;
  readonly text?: string;
  readonly error?: string;
}

const isRequest = (m: unknown): m is MetricsRequest => typeof m === "object" && m !== null && (m as { type?: unknown }).type === REQUEST;
const isAnswer = (m: unknown): m is MetricsAnswer => typeof m === "object" && m !== null && (m as { type?: unknown }).type === ANSWER;

/**
 * In a worker: makes `registry` the one the supervisor collects, and returns the function that renders
 * the whole service's metrics (through the supervisor).
 */
export function workerMetricsSource(registry: Registry): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one in a worker installs prom-client's answer to the supervisor's collection request.
  new AggregatorRegistry();
  const pending = new Map<number, { resolve: (text: string) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let next = 0;
  process.on("message", (m: unknown) => {
    if (!isAnswer(m)) return;
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.text !== undefined) p.resolve(m.text);
    else p.reject(new Error(m.error ?? "metrics aggregation failed"));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error("the supervisor did not answer the metrics request"));
      }, TIMEOUT_MS);
      timer.unref();
      pending.set(id, { resolve, reject, timer });
      process.send?.({ type: REQUEST, id } satisfies MetricsRequest);
    });
}

/** In the supervisor: answers the workers' metrics requests with the aggregate of all workers. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on("message", (worker, m: unknown) => {
    if (!isRequest(m)) return;
    aggregator.clusterMetrics().then(
      (text) => worker.isConnected() && worker.send({ type: ANSWER, id: m.id, text } satisfies MetricsAnswer),
      (e: unknown) => worker.isConnected() && worker.send({ type: ANSWER, id: m.id, error: (e as Error).message } satisfies MetricsAnswer),
    );
  });
}
