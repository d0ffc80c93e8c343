/**
 * Issue 12, hardened edges, at the app level (no TLS, no database): where /metrics is served and behind
 * what, the metrics configuration, JSON body handling and problem documents for bare statuses.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import Router from "@koa/router";
import type Koa from "koa";
import { z } from "zod";
import { createApp, createMetricsApp } from "../../../api/app.js";
import { ConfigError, loadConfig } from "../../../api/config.js";
import { readJson } from "../../../api/json-body.js";
import { createLogger } from "../../../api/logger.js";
import { Metrics } from "../../../api/metrics.js";

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

async function call(app: Koa, method: string, path: string, opts: { headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const server = http.createServer(app.callback() as http.RequestListener); // Koa handles its own errors
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const port = (server.address() as AddressInfo).port;
    return await new Promise<Answer>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port, method, path, headers: { ...(opts.body !== undefined ? { "content-length": String(Buffer.byteLength(opts.body)) } : {}), ...opts.headers } }, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString("utf8")));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      });
      req.on("error", reject);
      if (opts.body !== undefined) req.write(opts.body);
      req.end();
    });
  } finally {
    server.close();
  }
}

const TOKEN = "a-metrics-token-of-32-characters";
const base = { logger: createLogger("silent"), caGenerations: { list: async () => [], get: async () => undefined }, readiness: [] };

describe("edges: /metrics placement (issue 12)", () => {
  it("the public app does not serve /metrics without a token configured (404 problem)", async () => {
    const res = await call(createApp({ ...base, metrics: new Metrics({ defaultMetrics: false }) }), "GET", "/metrics");
    assert.equal(res.status, 404);
    assert.match(String(res.headers["content-type"]), /application\/problem\+json/);
  });

  it("with a token, the public app serves /metrics only to a scrape that carries it", async () => {
    const app = createApp({ ...base, metrics: new Metrics({ defaultMetrics: false }), metricsToken: TOKEN });
    assert.equal((await call(app, "GET", "/metrics")).status, 401);
    assert.equal((await call(app, "GET", "/metrics", { headers: { Authorization: "Bearer wrong-token-wrong-token-wrong" } })).status, 401);
    const res = await call(app, "GET", "/metrics", { headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    assert.match(res.text, /# TYPE ca_http_requests_total counter/);
  });

  it("the metrics app serves /metrics only (token-free unless one is configured)", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    assert.equal((await call(createMetricsApp({ logger: base.logger, metrics, token: null }), "GET", "/metrics")).status, 200);
    assert.equal((await call(createMetricsApp({ logger: base.logger, metrics, token: null }), "GET", "/healthz")).status, 404);
    assert.equal((await call(createMetricsApp({ logger: base.logger, metrics, token: TOKEN }), "GET", "/metrics")).status, 401);
  });
});

describe("edges: metrics configuration", () => {
  const env = { CA_HSM_PIN: "1234" };
  it("defaults to a loopback listener on 9464 and no token", () => {
    const c = loadConfig(env);
    assert.deepEqual(c.metrics, { listen: { host: "127.0.0.1", port: 9464 }, token: null });
  });
  it("takes CA_METRICS_HOST/PORT and CA_METRICS_TOKEN", () => {
    const c = loadConfig({ ...env, CA_METRICS_HOST: "0.0.0.0", CA_METRICS_PORT: "0", CA_METRICS_TOKEN: TOKEN });
    assert.deepEqual(c.metrics, { listen: { host: "0.0.0.0", port: 0 }, token: TOKEN });
  });
  it("refuses a short token, naming the field, without echoing it", () => {
    assert.throws(() => loadConfig({ ...env, CA_METRICS_TOKEN: "short" }), (e: unknown) => e instanceof ConfigError && /metrics\.tokenFile/.test(e.message) && !e.message.includes("short"));
    assert.throws(() => loadConfig({ ...env, CA_METRICS_PORT: "x" }), (e: unknown) => e instanceof ConfigError && /CA_METRICS_PORT/.test(e.message));
  });
});

describe("edges: JSON bodies and bare statuses under /v1", () => {
  const schema = z.strictObject({ a: z.strictObject({ b: z.number() }) });
  const app = (): Koa =>
    createApp({
      ...base,
      metrics: new Metrics({ defaultMetrics: false }),
      v1Routers: [
        () => {
          const r = new Router();
          r.post("/echo", async (ctx) => {
            ctx.body = await readJson(ctx, schema);
          });
          return r;
        },
      ],
    });
  // createApp's /v1 demands a client certificate: these run through the same middleware on an app
  // without TLS, so they stop at requireClient; the body and status handling is checked end to end in
  // test/security/edges.test.ts. Here: what needs no client.
  it("a 405 on a public route is a problem with Allow", async () => {
    const res = await call(app(), "POST", "/healthz", { headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(res.status, 405);
    assert.match(String(res.headers["content-type"]), /application\/problem\+json/);
    assert.equal(JSON.parse(res.text).type, "urn:jpki-ca:problem:method-not-allowed");
    assert.match(String(res.headers.allow), /GET/);
  });
  it("every /v1 answer, even the refusal of a client without a certificate, is Cache-Control: no-store", async () => {
    const res = await call(app(), "POST", "/v1/echo", { headers: { "content-type": "application/json" }, body: '{"a":{"b":1}}' });
    assert.equal(res.headers["cache-control"], "no-store");
    assert.match(String(res.headers["content-type"]), /application\/problem\+json/);
  });
});
