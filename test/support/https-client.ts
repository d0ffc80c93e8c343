import https from "node:https";
import http from "node:http";

export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  json<T = any>(): T;
}

export interface ClientCredentials {
  /** PEM trust anchor of the HTTPS listener (var/demo/tls-ca.pem). */
  readonly ca: string;
  /** PEM client certificate and key; omit to connect without one. */
  readonly cert?: string;
  readonly key?: string;
}

/** One HTTP(S) request with an optional client certificate: the way a terminal or relying party talks to us. */
export function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer; tls?: ClientCredentials } = {},
): Promise<HttpAnswer> {
  const u = new URL(url);
  const lib = u.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      u,
      {
        method: options.method ?? "GET",
        headers: { ...(options.body !== undefined ? { "content-length": String(Buffer.byteLength(options.body)) } : {}), ...options.headers },
        ...(options.tls ? { ca: options.tls.ca, cert: options.tls.cert, key: options.tls.key, servername: "localhost", agent: false } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString("utf8")) });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** A JSON request. */
export function requestJson(url: string, method: string, body: unknown, tls: ClientCredentials, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return request(url, { method, tls, body: JSON.stringify(body), headers: { "content-type": "application/json", ...headers } });
}
