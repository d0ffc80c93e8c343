import type { Context, Next } from "koa";
import { isCaError, type CaErrorKind } from "../ca/errors.js";
import { asDatabaseUnavailable } from "../db/database-errors.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

/** RFC 7807 problem document. `detail` never carries personal data (docs/design.md invariant 6). */
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
  "rate-limited": { status: 429, title: "Too many requests" },
  "payload-too-large": { status: 413, title: "Payload too large" },
  unavailable: { status: 503, title: "Service unavailable" },
  internal: { status: 500, title: "Internal server error" },
};

export const problemType = (kind: string): string => `urn:jpki-ca:problem:${kind}`;

/**
 * An HTTP-level problem that has no core meaning (415 unsupported media type, 405 …): raised by the
 * edge middleware of api/, never by the core, which raises CaError.
 */
export class HttpProblemError extends Error {
  constructor(
    readonly status: number,
    readonly kind: string,
    readonly title: string,
    detail: string,
    readonly field?: string,
  ) {
    super(detail);
    this.name = "HttpProblemError";
  }
}

/** Titles of the statuses Koa and its routers set without a body (RFC 7807 for them too, issue 12). */
const titleOfStatus: Readonly<Record<number, { kind: string; title: string; detail: string }>> = {
  400: { kind: "invalid-input", title: "Bad request", detail: "the request is malformed" },
  404: { kind: "not-found", title: "Not found", detail: "no such route" },
  405: { kind: "method-not-allowed", title: "Method not allowed", detail: "the route does not accept this method (see the Allow header)" },
  406: { kind: "not-acceptable", title: "Not acceptable", detail: "no acceptable representation" },
  413: { kind: "payload-too-large", title: "Payload too large", detail: "the request body is too large" },
  415: { kind: "unsupported-media-type", title: "Unsupported media type", detail: "the request body must be application/json" },
  501: { kind: "not-implemented", title: "Not implemented", detail: "the method is not implemented" },
};

/** The problem for a bare status: a known title, or the generic one of its class. */
function problemOfStatus(status: number, detail?: string): Problem {
  const known = titleOfStatus[status];
  if (known) return { type: problemType(known.kind), title: known.title, status, detail: detail ?? known.detail };
  const server = status >= 500;
  return { type: problemType(server ? "internal" : "invalid-input"), title: server ? "Internal server error" : "Bad request", status, ...(detail === undefined ? {} : { detail }) };
}

/** Seconds a 503 asks the client to wait before retrying (`Retry-After`, RFC 9110 §10.2.3). */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;

export interface ErrorMiddlewareOptions {
  /** `Retry-After` of every 503 (default {@link DEFAULT_RETRY_AFTER_SECONDS}). */
  readonly retryAfterSeconds?: number;
}

/**
 * The one error middleware (docs/design.md §3.4): CaError → status + problem; a database that is down,
 * restarting or out of disk → 503 (db/database-errors.ts, issue 14 item 3); Koa's own HTTP errors (body
 * too large, bad JSON) keep their status; anything else is a generic 500, logged without its message's
 * request data. Every 503 (a problem or `/readyz`) carries `Retry-After`.
 */
export function errorMiddleware(logger: Logger, metrics: Metrics, options: ErrorMiddlewareOptions = {}) {
  const retryAfter = String(options.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS);
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await handleErrorsOf(ctx, next);
    } finally {
      if (ctx.status === 503 && !ctx.response.get("Retry-After")) ctx.set("Retry-After", retryAfter);
    }
  };

  async function handleErrorsOf(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
      // Unmatched routes (404), the routers' 405 (allowedMethods: Allow header kept) and 501, and any
      // other error status set without a body answer an RFC 7807 problem too (issue 12).
      if (ctx.status >= 400 && (ctx.body === undefined || ctx.body === null)) render(ctx, problemOfStatus(ctx.status));
    } catch (thrown) {
      const err = asDatabaseUnavailable(thrown);
      if (err instanceof HttpProblemError) {
        const problem: Problem = { type: problemType(err.kind), title: err.title, status: err.status, detail: err.message };
        if (err.field !== undefined) problem.field = err.field;
        render(ctx, problem);
        return;
      }
      if (isCaError(err)) {
        // A refusal that says when to come back (429 throttle, 503 busy hasher, a query limit): RFC 9110 §10.2.3.
        const seconds = (err as { retryAfterSeconds?: unknown }).retryAfterSeconds;
        if (typeof seconds === "number") ctx.set("Retry-After", String(seconds));
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
        render(ctx, problemOfStatus(e.status, e.expose ? String(e.message) : undefined));
        return;
      }
      metrics.httpErrors.inc();
      // Log the error class and stack only: messages of library errors can echo request data.
      logger.error({ err: { name: (err as Error)?.name, stack: (err as Error)?.stack?.split("\n").slice(1, 6).join("\n") }, route: ctx._matchedRoute }, "unhandled error");
      render(ctx, { type: problemType("internal"), title: "Internal server error", status: 500 });
    }
  }
}

function render(ctx: Context, problem: Problem): void {
  ctx.status = problem.status;
  ctx.type = "application/problem+json";
  ctx.body = problem;
}

const causeName = (c: unknown): string | undefined => (c instanceof Error ? c.name : undefined);
