import type { Context } from "koa";
import type { z } from "zod";
import { CaError } from "../ca/errors.js";

/** Body limit when this reads the stream itself (no body parser mounted before the route). */
export const DEFAULT_JSON_LIMIT = 64 * 1024;

/**
 * The request's JSON body validated with `schema`: the edge where untrusted input becomes a typed
 * value (DESIGN §3.3). Uses `ctx.request.body` when a body parser already ran (createApp mounts
 * @koa/bodyparser under /v1), otherwise reads at most `limit` bytes itself.
 * CaError "invalid-input" (400) for a wrong content type, bad JSON or a schema failure, naming the
 * first field at fault; "payload-too-large" (413) over the limit. Messages never echo the values.
 */
export async function readJson<S extends z.ZodType>(ctx: Context, schema: S, limit = DEFAULT_JSON_LIMIT): Promise<z.infer<S>> {
  if (!ctx.is("application/json")) throw new CaError("invalid-input", "request body must be application/json");
  const parsedAlready = (ctx.request as { body?: unknown }).body;
  const value = parsedAlready !== undefined ? parsedAlready : await readStream(ctx, limit);
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join(".") || undefined;
    // zod's messages name types and limits, not the values sent.
    throw new CaError("invalid-input", `${field ?? "body"}: ${issue?.message ?? "invalid"}`, field === undefined ? {} : { field });
  }
  return parsed.data;
}

async function readStream(ctx: Context, limit: number): Promise<unknown> {
  if (Number(ctx.get("Content-Length") || "0") > limit) throw new CaError("payload-too-large", `request body over ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new CaError("payload-too-large", `request body over ${limit} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new CaError("invalid-input", "request body is not valid JSON");
  }
}
