/**
 * The cluster test's clients in front of several CA nodes, as a load balancer without health checks
 * would put them: requests go to the nodes in turn; a request that gets no answer (connection refused
 * or reset: the node died) or a 503 is sent again, unchanged — same Idempotency-Key, same body — to the
 * next node. Every attempt is counted by outcome for the summary the test prints.
 */
import http from "node:http";
import https from "node:https";

export interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface TlsCredentials {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** Counts of attempts, by outcome. */
export class AttemptCounts {
  sent = 0;
  answered = 0;
  /** No answer: connection refused, reset, or timed out. */
  unanswered = 0;
  /** Of those: no answer within the attempt's timeout (a request left hanging). */
  timedOut = 0;
  /** Attempts beyond the first of a request. */
  retried = 0;
  readonly byStatus = new Map<number, number>();
  /** Answers 503 that carried Retry-After. */
  withRetryAfter = 0;
  /**
   * The first few 5xx answers other than 503 (status and problem document: never personal data,
   * docs/api.md §0) and attempts that timed out, with their time.
   */
  readonly serverErrors: string[] = [];

  count(a: Answer | "timeout" | undefined): void {
    this.sent++;
    if (a === "timeout") {
      this.timedOut++;
      if (this.serverErrors.length < 5) this.serverErrors.push(`${new Date().toISOString()} no answer within the timeout`);
    }
    if (!a || a === "timeout") {
      this.unanswered++;
      return;
    }
    this.answered++;
    this.byStatus.set(a.status, (this.byStatus.get(a.status) ?? 0) + 1);
    if (a.status === 503 && a.headers["retry-after"] !== undefined) this.withRetryAfter++;
    if (a.status >= 500 && a.status !== 503 && this.serverErrors.length < 5) this.serverErrors.push(`${new Date().toISOString()} ${a.status} ${a.body.toString("utf8").slice(0, 200)}`);
  }

  statuses(): string {
    return [...this.byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}×${n}`)
      .join(" ");
  }
}

export interface NodeUrls {
  readonly httpUrl: string;
  readonly httpsUrl: string;
}

/** The nodes' base URLs, replaceable while running (a restarted node has new ports). */
export class NodeRing {
  private next = 0;
  constructor(private readonly nodes: NodeUrls[]) {}

  set(index: number, node: NodeUrls): void {
    this.nodes[index] = node;
  }

  /** The base URL of the node after the previous pick: its HTTPS listener (mTLS) or its HTTP one. */
  pick(https: boolean): string {
    const node = this.nodes[this.next % this.nodes.length]!;
    this.next++;
    return https ? node.httpsUrl : node.httpUrl;
  }
}

const agents = new Map<string, http.Agent>();

function agentFor(url: string, tls: TlsCredentials | undefined): http.Agent {
  const key = `${new URL(url).origin}|${tls ? tls.cert.length : 0}`;
  let agent = agents.get(key);
  if (!agent) {
    agent = tls ? new https.Agent({ keepAlive: true, maxSockets: 8, ca: tls.ca, cert: tls.cert, key: tls.key, servername: "localhost" }) : new http.Agent({ keepAlive: true, maxSockets: 8 });
    agents.set(key, agent);
  }
  return agent;
}

/** Closes every kept-alive connection of these clients. */
export function closeAgents(): void {
  for (const a of agents.values()) a.destroy();
  agents.clear();
}

/** One attempt; undefined when no answer came: the connection failed, or "timeout" after `timeoutMs` (default 20 s). */
export function attempt(url: string, o: { method: string; body?: string; headers?: Record<string, string>; tls?: TlsCredentials; timeoutMs?: number }): Promise<Answer | "timeout" | undefined> {
  const u = new URL(url);
  const lib = u.protocol === "https:" ? https : http;
  return new Promise((resolve) => {
    const req = lib.request(
      u,
      {
        method: o.method,
        agent: agentFor(url, o.tls),
        headers: { ...(o.body !== undefined ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(o.body)) } : {}), ...o.headers },
        timeout: o.timeoutMs ?? 20_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", () => resolve(undefined));
      },
    );
    req.on("timeout", () => {
      resolve("timeout");
      req.destroy();
    });
    req.on("error", () => resolve(undefined));
    req.end(o.body);
  });
}

/** The HTTP status of one GET (undefined without an answer). */
export async function statusOf(url: string, timeoutMs?: number): Promise<number | undefined> {
  const a = await attempt(url, { method: "GET", ...(timeoutMs ? { timeoutMs } : {}) });
  return a === "timeout" ? undefined : a?.status;
}

/**
 * Sends until an answer other than 503 comes (or `deadlineMs` passes): a request without an answer or
 * with a 503 goes again to the next node, after Retry-After (at most 1 s) or 200 ms.
 * @returns the final answer (undefined if none before the deadline) and whether any attempt went unanswered
 */
export async function sendWithRetries(
  ring: NodeRing,
  path: string,
  o: { method: string; body?: string; headers?: Record<string, string>; tls?: TlsCredentials; timeoutMs?: number; deadlineMs?: number; stopped?: () => boolean },
  counts: AttemptCounts,
): Promise<{ answer: Answer | undefined; unanswered: boolean; attempts: number }> {
  const deadline = Date.now() + (o.deadlineMs ?? 60_000);
  let unanswered = false;
  for (let attempts = 1; ; attempts++) {
    if (attempts > 1) counts.retried++;
    const result = await attempt(`${ring.pick(o.tls !== undefined)}${path}`, o);
    counts.count(result);
    const answer = result === "timeout" ? undefined : result;
    if (answer && answer.status !== 503) return { answer, unanswered, attempts };
    if (!answer) unanswered = true;
    if (Date.now() > deadline || o.stopped?.()) return { answer, unanswered, attempts };
    const retryAfter = Number(answer?.headers["retry-after"] ?? 0);
    await sleep(answer ? Math.min(1000, Math.max(200, retryAfter * 1000)) : 100);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
