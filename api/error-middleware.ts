import type { Context, Next } from "koa";
import { isCaError, type CaErrorKind } from "../ca/errors.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

/** RFC 7807 problem document. `detail` never carries personal data (DESIGN invariant 6). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  /** The request field the problem is about (extension member). */
  field?: string;
}

const statusOf: Readonly<Record<CaErrorKind, { status: number; title: string }>> = {
  "invalid-input": { status: 400, title: "Bad request" },
  unprocessable: { status: 422, title: "Refused by the certificate profile" },
  unauthenticated: { status: 401, title: "Authentication required" },
  forbidden: { status: 403, title: "Forbidden" },
  "not-found": { status: 404, title: "Not found" },
  conflict: { status: 409, title: "Conflict" },
  locked: { status: 423, title: "Account locked" },
  "payload-too-large": { status: 413, title: "Payload too large" },
  unavailable: { status: 503, title: "Service unavailable" },
  internal: { status: 500, title: "Internal server error" },
};

export const problemType = (kind: string): string => `urn:jpki-ca:problem:${kind}`;

/**
 * The one error middleware (DESIGN §3.4): CaError → status + problem; Koa's own HTTP errors (body too
 * large, bad JSON) keep their status; anything else is a generic 500, logged without its message's
 * request data.
 */
export function errorMiddleware(logger: Logger, metrics: Metrics) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        render(ctx, { type: problemType("not-found"), title: "Not found", status: 404, detail: "no such route" });
      }
    } catch (err) {
      if (isCaError(err)) {
        const s = statusOf[err.kind];
        const problem: Problem = { type: problemType(err.kind), title: s.title, status: s.status, detail: err.message };
        if (err.field !== undefined) problem.field = err.field;
        if (s.status >= 500) {
          metrics.httpErrors.inc();
          logger.error({ kind: err.kind, route: ctx._matchedRoute, cause: causeName(err.cause) }, "request failed");
        }
        render(ctx, problem);
        return;
      }
      const e = err as { status?: unknown; expose?: unknown; message?: unknown; type?: unknown };
      if (typeof e.status === "number" && e.status >= 400 && e.status < 500) {
        // koa / raw-body errors: 413 entity.too.large, 400 entity.parse.failed, 415 …
        const kind = e.status === 413 ? "payload-too-large" : "invalid-input";
        render(ctx, { type: problemType(kind), title: e.status === 413 ? "Payload too large" : "Bad request", status: e.status, detail: e.expose ? String(e.message) : undefined });
        return;
      }
      metrics.httpErrors.inc();
      // Log the error class and stack only: messages of library errors can echo request data.
      logger.error({ err: { name: (err as Error)?.name, stack: (err as Error)?.stack?.split("\n").slice(1, 6).join("\n") }, route: ctx._matchedRoute }, "unhandled error");
      render(ctx, { type: problemType("internal"), title: "Internal server error", status: 500 });
    }
  };
}

function render(ctx: Context, problem: Problem): void {
  ctx.status = problem.status;
  ctx.type = "application/problem+json";
  ctx.body = problem;
}

const causeName = (c: unknown): string | undefined => (c instanceof Error ? c.name : undefined);
