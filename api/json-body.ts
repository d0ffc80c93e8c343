import type { Context, Next } from "koa";
import type { z } from "zod";
import { CaError } from "../ca/errors.js";
import { HttpProblemError } from "./error-middleware.js";
import { readRequestBody } from "./request-body.js";

/** Body limit when this reads the stream itself (no body parser mounted before the route). */
export const DEFAULT_JSON_LIMIT = 64 * 1024;

/** Methods whose request may carry a body that /v1 reads (docs/api.md §0: all /v1 bodies are JSON). */
const BODY_METHODS: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** True when the request announces a body: a non-zero Content-Length or any Transfer-Encoding (RFC 9112 §6.3). */
export function hasRequestBody(ctx: Context): boolean {
  if (ctx.get("Transfer-Encoding") !== "") return true;
  const length = ctx.get("Content-Length");
  return length !== "" && length !== "0";
}

/** `application/json` or a `+json` structured-syntax suffix (RFC 6839), any parameters. */
const isJsonType = (ctx: Context): boolean => ctx.is("application/json", "+json") !== false;

const unsupportedMediaType = (): HttpProblemError =>
  new HttpProblemError(415, "unsupported-media-type", "Unsupported media type", "the request body must be application/json", "body");

/**
 * The JSON body reader of every /v1 route (issue 12, hardened edges): replaces @koa/bodyparser, which
 * turns a body of any other type, an empty body and `{}` alike into `{}` — so a route that read
 * `ctx.request.body` took an authorization decision on a body it never received.
 *
 * - No body (no Content-Length, or 0, and no Transfer-Encoding): `ctx.request.body` stays undefined;
 *   a route that needs one refuses it (readJson: 400 "body").
 * - A body that is not `application/json` (or `+json`): 415, before any route runs.
 * - A body over `limit` bytes: 413. Not UTF-8, empty after all, or not JSON: 400 naming "body".
 * Routes that set `ctx.disableBodyParser` read the stream themselves (the resident feed's batches).
 */
export function jsonBody(opts: { readonly limit: number }) {
  return async function parseJsonBody(ctx: Context, next: Next): Promise<void> {
    if (!BODY_METHODS.has(ctx.method) || (ctx as { disableBodyParser?: boolean }).disableBodyParser || !hasRequestBody(ctx)) return next();
    if (!isJsonType(ctx)) throw unsupportedMediaType();
    (ctx.request as { body?: unknown }).body = await readStream(ctx, opts.limit);
    return next();
  };
}

/**
 * The JSON body jsonBody parsed, unvalidated, for a core service that parses the request itself
 * (POST /v1/issuances: ca/issuance/issuance-request.ts). Undefined when there was none.
 */
export function parsedJsonBody(ctx: Context): unknown {
  return (ctx.request as { body?: unknown }).body;
}

/**
 * The request's JSON body validated with `schema`: the edge where untrusted input becomes a typed
 * value (docs/design.md §3.3). Uses `ctx.request.body` when jsonBody already ran (createApp mounts it
 * under /v1), otherwise reads at most `limit` bytes itself.
 * 415 for a body of another content type; CaError "invalid-input" (400) for a missing or empty body,
 * bad JSON or a schema failure, naming the first field at fault (or "body"); "payload-too-large" (413)
 * over the limit. Messages never echo the values.
 */
export async function readJson<S extends z.ZodType>(ctx: Context, schema: S, limit = DEFAULT_JSON_LIMIT): Promise<z.infer<S>> {
  const parsedAlready = parsedJsonBody(ctx);
  let value: unknown = parsedAlready;
  if (parsedAlready === undefined) {
    if (!hasRequestBody(ctx)) throw new CaError("invalid-input", "a JSON request body is required", { field: "body" });
    if (!isJsonType(ctx)) throw unsupportedMediaType();
    value = await readStream(ctx, limit);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join(".") || undefined;
    // zod's messages name types and limits, not the values sent; an unknown key is input too, so it is
    // named only when it looks like a field name (as ca/residents/resident-fields.ts does).
    if (issue?.code === "unrecognized_keys") {
      const keys = issue.keys.filter((k) => /^[A-Za-z][A-Za-z0-9_]{0,40}$/.test(k));
      const where = field ?? "body";
      throw new CaError("invalid-input", `${where}: unknown field${keys.length > 0 ? ` ${keys.join(", ")}` : ""}`, { field: keys.length === 1 ? (field ? `${field}.${keys[0]}` : keys[0]) : where });
    }
    throw new CaError("invalid-input", `${field ?? "body"}: ${issue?.message ?? "invalid"}`, { field: field ?? "body" });
  }
  return parsed.data;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

async function readStream(ctx: Context, limit: number): Promise<unknown> {
  const body = await readRequestBody(ctx.req, limit);
  if (body === "too-large") throw new CaError("payload-too-large", `request body over ${limit} bytes`);
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    throw new CaError("invalid-input", "request body is not valid UTF-8", { field: "body" });
  }
  if (text.trim() === "") throw new CaError("invalid-input", "the JSON request body is empty", { field: "body" });
  try {
    return JSON.parse(text);
  } catch {
    throw new CaError("invalid-input", "request body is not valid JSON", { field: "body" });
  }
}
