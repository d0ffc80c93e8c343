import Router from "@koa/router";
import type { Metrics } from "../metrics.js";

/** A dependency the service needs to answer (database, HSM). */
export interface ReadinessCheck {
  readonly name: string;
  check(): Promise<void>;
}

/** `/healthz` (the process answers), `/readyz` (database and HSM reachable), `/metrics` (Prometheus). */
export function healthRoutes(checks: readonly ReadinessCheck[], metrics: Metrics): Router {
  const router = new Router();
  router.get("/healthz", (ctx) => {
    ctx.body = { status: "ok" };
  });
  router.get("/readyz", async (ctx) => {
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
  router.get("/metrics", async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.exposition();
  });
  return router;
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
