import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type Koa from "koa";

export interface TlsMaterial {
  /** PEM of the HTTPS server certificate (issued by the service CA). */
  readonly cert: string;
  /** PEM of the server's private key (a software key: Node's TLS stack cannot use a PKCS#11 key). */
  readonly key: string;
  /** PEM of the service CA: the only issuer of client certificates the HTTPS listener accepts. */
  readonly clientCa: string;
}

export interface Listeners {
  readonly httpUrl: string;
  readonly httpsUrl: string;
  close(): Promise<void>;
}

/**
 * CONTRACT §1: the plain HTTP listener (relying parties, health, metrics) and the HTTPS listener that
 * demands a client certificate issued by the service CA (告示334号 第4-3(4): mutual authentication of
 * communicating machines). The TLS handshake itself refuses clients without one.
 */
export async function listen(
  app: Koa,
  opts: {
    http: { host: string; port: number };
    https: { host: string; port: number };
    tls: TlsMaterial;
    /** Wraps Koa's request listener, e.g. the OCSP GET fast path that answers before Koa. */
    wrap?: (next: http.RequestListener) => http.RequestListener;
  },
): Promise<Listeners> {
  const koa = app.callback() as http.RequestListener;
  const callback = opts.wrap ? opts.wrap(koa) : koa;
  const plain = http.createServer(callback);
  const secure = https.createServer(
    { cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.clientCa, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.2" },
    callback,
  );
  // Bound what a slow or idle client can hold (keep-alive for terminals, but not forever).
  for (const s of [plain, secure]) {
    s.keepAliveTimeout = 30_000;
    s.headersTimeout = 20_000;
    s.requestTimeout = 60_000;
  }
  await Promise.all([listenOn(plain, opts.http.host, opts.http.port), listenOn(secure, opts.https.host, opts.https.port)]);
  return {
    httpUrl: urlOf("http", plain),
    httpsUrl: urlOf("https", secure),
    close: async () => {
      await Promise.all([closeServer(plain), closeServer(secure)]);
    },
  };
}

function listenOn(server: http.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function urlOf(scheme: string, server: http.Server): string {
  const a = server.address() as AddressInfo;
  const host = a.family === "IPv6" ? `[${a.address}]` : a.address;
  return `${scheme}://${host}:${a.port}`;
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
