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
  /** The metrics listener (config `metrics.listen`), or null when there is none. */
  readonly metricsUrl: string | null;
  close(): Promise<void>;
}

/**
 * TLS 1.2 cipher suites (issue 12): forward secrecy (ECDHE) and AEAD only — AES-GCM and
 * ChaCha20-Poly1305, as BSI TR-02102-2 and Mozilla's "intermediate" profile recommend; no CBC (Lucky13,
 * SHA-1 MACs), no CCM_8 (64-bit tags), no ARIA/Camellia, no static-RSA key exchange, no finite-field DHE.
 * 告示334号 第4-3(5): traffic encrypted. The server's key decides which of ECDSA/RSA authentication applies.
 */
export const TLS12_CIPHERS: readonly string[] = Object.freeze([
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
]);

/**
 * TLS 1.3 suites (all AEAD; CCM_8 left out). Named explicitly: Node hands the TLS_ names of `ciphers`
 * to SSL_CTX_set_ciphersuites, so a list without them would switch TLS 1.3 off.
 */
export const TLS13_CIPHERSUITES: readonly string[] = Object.freeze(["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]);

/** The TLS options of the HTTPS listener beyond certificates (exported for the tests). */
export const TLS_POLICY = Object.freeze({
  minVersion: "TLSv1.2" as const,
  ciphers: [...TLS13_CIPHERSUITES, ...TLS12_CIPHERS].join(":"),
  honorCipherOrder: true,
});

/**
 * docs/api.md §1: the plain HTTP listener (relying parties, health) and the HTTPS listener that
 * demands a client certificate issued by the service CA (告示334号 第4-3(4): mutual authentication of
 * communicating machines). The TLS handshake itself refuses clients without one. A third, optional
 * listener serves only `/metrics` (issue 12: not on the public port).
 */
export async function listen(
  app: Koa,
  opts: {
    http: { host: string; port: number };
    https: { host: string; port: number };
    tls: TlsMaterial;
    /** Wraps Koa's request listener, e.g. the OCSP GET fast path that answers before Koa. */
    wrap?: (next: http.RequestListener) => http.RequestListener;
    /** The metrics listener (plain HTTP, loopback by default) and its app (api/app.ts createMetricsApp). */
    metrics?: { host: string; port: number; app: Koa } | null;
  },
): Promise<Listeners> {
  const koa = app.callback() as http.RequestListener;
  const callback = opts.wrap ? opts.wrap(koa) : koa;
  const plain = http.createServer(callback);
  const secure = https.createServer(
    { cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.clientCa, requestCert: true, rejectUnauthorized: true, ...TLS_POLICY },
    callback,
  );
  const metrics = opts.metrics ? http.createServer(opts.metrics.app.callback() as http.RequestListener) : undefined;
  const servers = metrics ? [plain, secure, metrics] : [plain, secure];
  // Bound what a slow or idle client can hold (keep-alive for terminals, but not forever).
  for (const s of servers) {
    s.keepAliveTimeout = 30_000;
    s.headersTimeout = 20_000;
    s.requestTimeout = 60_000;
  }
  try {
    await Promise.all([
      listenOn(plain, opts.http.host, opts.http.port),
      listenOn(secure, opts.https.host, opts.https.port),
      ...(metrics && opts.metrics ? [listenOn(metrics, opts.metrics.host, opts.metrics.port)] : []),
    ]);
  } catch (e) {
    await Promise.all(servers.filter((s) => s.listening).map(closeServer));
    throw e;
  }
  return {
    httpUrl: urlOf("http", plain),
    httpsUrl: urlOf("https", secure),
    metricsUrl: metrics ? urlOf("http", metrics) : null,
    close: async () => {
      await Promise.all(servers.map(closeServer));
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
