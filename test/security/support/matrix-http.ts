import https from "node:https";
import type { ClientCredentials, HttpAnswer } from "../../support/https-client.js";

/**
 * HTTPS calls of the security matrix over keep-alive connections, one agent per client credential:
 * the matrix makes a couple of thousand requests, and a TLS handshake for each would be most of its
 * time. The service sees the same client certificate on a reused connection (it reads the peer
 * certificate of the socket), so this changes nothing it decides.
 */
const agents = new Map<ClientCredentials, https.Agent>();

function agentOf(creds: ClientCredentials): https.Agent {
  let agent = agents.get(creds);
  if (!agent) {
    agent = new https.Agent({ keepAlive: true, maxSockets: 4, ca: creds.ca, ...(creds.cert ? { cert: creds.cert, key: creds.key } : {}), servername: "localhost" });
    agents.set(creds, agent);
  }
  return agent;
}

/** One HTTPS request as `creds`, with optional headers and a JSON body. */
export function matrixRequest(url: string, creds: ClientCredentials, method: string, headers: Record<string, string>, body?: unknown): Promise<HttpAnswer> {
  return once(url, creds, method, headers, body === undefined ? undefined : JSON.stringify(body), true);
}

function once(url: string, creds: ClientCredentials, method: string, headers: Record<string, string>, payload: string | undefined, mayRetry: boolean): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(url),
      {
        method,
        agent: agentOf(creds),
        headers: { ...(payload !== undefined ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)) } : {}), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const data = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data, json: () => JSON.parse(data.toString("utf8")) });
        });
        res.on("error", reject);
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) => {
      // The server closed an idle kept-alive connection just as it was reused (Node's documented race):
      // the request never reached it, so sending it again on a new connection is safe.
      if (mayRetry && req.reusedSocket && e.code === "ECONNRESET") once(url, creds, method, headers, payload, false).then(resolve, reject);
      else reject(e);
    });
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** Closes every connection the matrix kept open. */
export function closeMatrixAgents(): void {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}
