import { createHash, timingSafeEqual } from "node:crypto";
import Router from "@koa/router";
import type { Context } from "koa";
import { CaError } from "../../ca/errors.js";
import type { Metrics } from "../metrics.js";

/** A dependency the service needs to answer (database, HSM). */
export interface ReadinessCheck {
  readonly name: string;
  check(): Promise<void>;
}

/** `/healthz` (the process answers), `/readyz` (database and HSM reachable). */
export function healthRoutes(checks: readonly ReadinessCheck[]): Router {
  const router = new Router();
  router.get("/healthz", function answerAlive(ctx) {
    ctx.body = { status: "ok" };
  });
  router.get("/readyz", async function answerReady(ctx) {
    const results = await Promise.all(
      checks.map(async (c) => {
        const started = performance.now();
        try {
          await withTimeout(c.check(), 2000);
          return { name: c.name, ok: true, ms: Math.round(performance.now() - started) };
        } catch (e) {
          return { name: c.name, ok: false, error: (e as Error).name === "CaError" ? (e as Error).message : "unreachable" };
        }
      }),
    );
    const ok = results.every((r) => r.ok);
    ctx.status = ok ? 200 : 503;
    ctx.body = { status: ok ? "ready" : "not ready", checks: results };
  });
  return router;
}

/**
 * `/metrics` (Prometheus text). Served on the metrics listener (config `metrics.listen`) and, only
 * when a scrape token is configured, on the public HTTP listener too (issue 12: the exposition names
 * routes, operators' lockouts and the HSM's load, which is reconnaissance for an attacker). With a
 * token, a scrape without `Authorization: Bearer <token>` is a 401 problem wherever it arrives.
 */
export function metricsRoutes(metrics: Metrics, token: string | null): Router {
  const router = new Router();
  router.get("/metrics", async function answerMetrics(ctx) {
    if (token !== null && !bearerMatches(ctx, token)) {
      ctx.set("WWW-Authenticate", 'Bearer realm="metrics"');
      throw new CaError("unauthenticated", "a metrics scrape token is required");
    }
    ctx.set("Cache-Control", "no-store");
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.exposition();
  });
  return router;
}

/** Constant-time comparison of the presented bearer token (digests of equal length). */
function bearerMatches(ctx: Context, token: string): boolean {
  const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(ctx.get("Authorization"));
  if (!m?.[1]) return false;
  const digest = (v: string): Buffer => createHash("sha256").update(v).digest();
  return timingSafeEqual(digest(m[1]), digest(token));
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("timeout")), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
