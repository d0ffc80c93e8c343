import Koa from "koa";
import Router from "@koa/router";
import type { CaGenerationStore } from "../ca/stores.js";
import { errorMiddleware } from "./error-middleware.js";
import { jsonBody } from "./json-body.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import { OpenApiDocument } from "./openapi.js";
import { caCertificateRoutes } from "./routes/ca-certificates.js";
import { healthRoutes, metricsRoutes, type ReadinessCheck } from "./routes/health.js";
import { requireClient } from "./client-identity.js";
import { auditDeniedRequests } from "./denial-audit.js";
import type { AuditStore } from "../ca/stores.js";
import type { Clock } from "../ca/ports.js";

/** Everything the HTTP layer needs, built by the composition root (api/main.ts) or by a test. */
export interface AppDeps {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly caGenerations: Pick<CaGenerationStore, "list" | "get">;
  readonly readiness: readonly ReadinessCheck[];
  /** Extra `/v1` routers mounted by later parts (issuance, events, admin …), each documenting itself. */
  readonly v1Routers?: ReadonlyArray<(openapi: OpenApiDocument) => Router>;
  /** When given, every 401/403/423 under /v1 is written to the audit log (security events, docs/domain.md §6). */
  readonly audit?: { readonly store: Pick<AuditStore, "append">; readonly clock: Clock };
  /** Relying-party routers mounted at the root, outside /v1 (docs/api.md §3: CRL, OCSP), each documenting itself. */
  readonly publicRouters?: ReadonlyArray<(openapi: OpenApiDocument) => Router>;
  /**
   * The metrics scrape token (config `metrics.token`). Only when one is given does this app serve
   * `/metrics` (behind the token); otherwise metrics live on their own listener (createMetricsApp).
   */
  readonly metricsToken?: string | null;
}

/**
 * Builds the Koa application without listening (docs/design.md §3.5), so tests can call `app.callback()`.
 * The same app serves both listeners; routes under /v1 demand a client certificate, which only the
 * HTTPS listener can carry.
 */
export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  app.proxy = false;
  const openapi = new OpenApiDocument({ title: "JPKI-style CA", version: "1" });

  app.use(requestLog(deps));
  app.use(noStoreUnderV1);
  app.use(errorMiddleware(deps.logger, deps.metrics));
  if (deps.audit) app.use(auditDeniedRequests(deps.audit.store, deps.audit.clock));

  const root = new Router();
  root.get("/openapi.json", (ctx) => {
    ctx.body = openapi.toJSON();
  });
  const metricsOnPublic = typeof deps.metricsToken === "string" ? [metricsRoutes(deps.metrics, deps.metricsToken)] : [];
  for (const r of [healthRoutes(deps.readiness), ...metricsOnPublic, caCertificateRoutes(deps.caGenerations), root, ...(deps.publicRouters ?? []).map((make) => make(openapi))]) {
    app.use(r.routes()).use(r.allowedMethods());
  }

  const v1 = new Router({ prefix: "/v1" });
  // docs/api.md §7: nothing under /v1 answers without a client certificate.
  v1.use(requireClient());
  // JSON bodies only, bounded: a 1 MB body is a 413 problem, never a crash (issuance bodies are ~10 kB).
  // The resident feed's batches (up to 1,000 events) are read by their own bounded reader.
  v1.use((ctx, next) => {
    if (ctx.path === "/v1/resident-events") ctx.disableBodyParser = true;
    return next();
  });
  // Anything but application/json is a 415, an empty or malformed body a 400, before any route (issue 12).
  v1.use(jsonBody({ limit: 256 * 1024 }));
  for (const make of deps.v1Routers ?? []) {
    const r = make(openapi);
    v1.use(r.routes(), r.allowedMethods());
  }
  app.use(v1.routes()).use(v1.allowedMethods());
  return app;
}

/**
 * The app of the metrics listener (config `metrics.listen`, default 127.0.0.1:9464): `/metrics` only,
 * behind the scrape token when one is configured; everything else is a 404 problem.
 */
export function createMetricsApp(deps: { readonly logger: Logger; readonly metrics: Metrics; readonly token: string | null }): Koa {
  const app = new Koa();
  app.proxy = false;
  app.use(errorMiddleware(deps.logger, deps.metrics));
  const r = metricsRoutes(deps.metrics, deps.token);
  app.use(r.routes()).use(r.allowedMethods());
  return app;
}

/**
 * `Cache-Control: no-store` on every /v1 answer, errors included (issue 12): certificate records and
 * issuance answers carry personal data (docs/domain.md §2), and no shared or browser cache may keep them
 * (RFC 9111 §5.2.2.5). Set outside the error middleware so that problems carry it too. The relying-party
 * routes (CRL, OCSP, CA certificates) keep their own caching headers (RFC 5019).
 */
async function noStoreUnderV1(ctx: Koa.Context, next: Koa.Next): Promise<void> {
  // The routers match paths case-insensitively, so /V1/… reaches the same routes.
  if (!/^\/v1(\/|$)/i.test(ctx.path)) return next();
  try {
    await next();
  } finally {
    ctx.set("Cache-Control", "no-store");
  }
}

/** Access log and request counter: method, route pattern, status and time; never bodies or query strings. */
function requestLog(deps: AppDeps) {
  return async function logRequest(ctx: Koa.Context, next: Koa.Next): Promise<void> {
    const started = performance.now();
    try {
      await next();
    } finally {
      const route = (ctx._matchedRoute as string | undefined) ?? "unmatched";
      deps.metrics.httpRequests.inc({ method: ctx.method, route, status: String(ctx.status) });
      deps.logger.debug({ method: ctx.method, route, status: ctx.status, ms: Math.round(performance.now() - started) }, "request");
    }
  };
}
