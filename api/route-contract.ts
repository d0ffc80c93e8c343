import type Router from "@koa/router";
import { z } from "zod";
import { CaError } from "../ca/errors.js";
import type { ApiContext, ApiMiddleware, ApiState } from "./api-state.js";
import { DEFAULT_JSON_LIMIT, readJson } from "./json-body.js";
import type { OpenApiDocument, OperationDoc, ParameterDoc } from "./openapi.js";

/**
 * One HTTP contract per route (issue 15 item 3): the zod schemas that validate a request are the ones
 * its OpenAPI entry is generated from (`z.toJSONSchema`), so the two cannot drift apart. A route is
 * declared once with {@link route}; the handler receives the parsed input and does
 * "authorize → one core call → render" (the guards in `guard` authenticate first).
 *
 * Order of checks, as the routes had it: guards (401/403), then path parameters (each with its own
 * refusal: 404 for an id that cannot exist, 400 naming the field), then the query (400 naming the
 * parameter), then the JSON body (415/413/400 through api/json-body.ts readJson).
 */

type Method = "get" | "post" | "put" | "delete";

/** A path parameter: its zod schema (validation and documentation) and the refusal when it fails. */
export interface PathParam<T> {
  readonly schema: z.ZodType<T>;
  /** The error of a value the schema refuses (e.g. 404 "no such id", 400 naming the field). */
  readonly refuse: (name: string) => CaError;
  readonly description?: string;
}

/** A path parameter from a zod schema and the error its refusal raises. */
export function pathParam<S extends z.ZodType>(schema: S, refuse: (name: string) => CaError, description?: string): PathParam<z.output<S>> {
  return { schema: schema as z.ZodType<z.output<S>>, refuse, ...(description === undefined ? {} : { description }) };
}

/** A request header the route reads (documented; the handler checks it). */
export interface HeaderDoc {
  readonly required?: boolean;
  readonly description?: string;
}

type Params = Readonly<Record<string, PathParam<unknown>>>;

export interface RouteContract<B extends z.ZodType | undefined, Q extends z.ZodObject | undefined, P extends Params | undefined> {
  readonly method: Method;
  /** The path as the router mounts it (Koa form, relative to the router's prefix): `/admin/approvals/:id`. */
  readonly path: string;
  /** Where the router is mounted, for the document: "/v1" (default) or "" (relying-party routes). */
  readonly prefix?: string;
  /** The documented path when it differs from `path` (e.g. a wildcard `/ocsp/*request`). */
  readonly docPath?: string;
  readonly summary: string;
  /** Machine roles and operator roles allowed, as `x-roles` (docs/api.md §7); the guards enforce them. */
  readonly roles?: readonly string[];
  /** Authentication and authorization middleware, run first. */
  readonly guard?: readonly ApiMiddleware[];
  readonly params?: P;
  /**
   * The query parameters. Each is given at most once (400 "<name> may be given once"); a value the
   * schema refuses is a 400 naming the parameter, with the schema's message.
   */
  readonly query?: Q;
  /**
   * "handler" when the core parses the query itself (e.g. an inquiry whose refusals are audited):
   * the schema then only documents it.
   */
  readonly queryParsedBy?: "handler";
  /** Refuse query parameters the schema does not declare (400 naming it), before anything else is parsed. */
  readonly strictQuery?: boolean;
  readonly headers?: Readonly<Record<string, HeaderDoc>>;
  /** The JSON body: validated (api/json-body.ts readJson) and documented. */
  readonly body?: B;
  /**
   * When the body may be left out (then the handler gets the schema's value of `{}`): "if-length"
   * when the request has a Content-Length, "if-json" when it is `application/json`. Default: required.
   */
  readonly bodyOptional?: "if-length" | "if-json";
  /** The body as documented when the core validates it (the route only checks it is an object). */
  readonly bodyDoc?: z.ZodType;
  readonly bodyLimit?: number;
  /** Status → description; 4xx/5xx answer RFC 7807 problems. */
  readonly responses: Readonly<Record<string, string>>;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;
type ParamsOut<P> = P extends Params ? { readonly [K in keyof P]: P[K] extends PathParam<infer T> ? T : never } : Record<string, never>;

/** What a handler receives: the request, parsed. */
export interface RouteInput<B, Q, P> {
  readonly body: Out<B>;
  readonly query: Out<Q>;
  readonly params: ParamsOut<P>;
}

export type RouteHandler<B, Q, P> = (ctx: ApiContext, input: RouteInput<B, Q, P>) => Promise<void> | void;

/** Mounts one route on `router` and documents it in `openapi`, both from `contract`. */
export function route<B extends z.ZodType | undefined = undefined, Q extends z.ZodObject | undefined = undefined, P extends Params | undefined = undefined>(
  router: Router<ApiState>,
  openapi: OpenApiDocument,
  contract: RouteContract<B, Q, P>,
  handler: RouteHandler<B, Q, P>,
): void {
  openapi.add(contract.method, documentedPath(contract), operationDoc(contract));
  const parseThenHandle: ApiMiddleware = async function parseRequest(ctx) {
    if (contract.strictQuery) refuseUnknownQuery(ctx, contract.query);
    const params = parseParams(ctx, contract.params);
    const query = contract.query !== undefined && contract.queryParsedBy !== "handler" ? parseQuery(ctx, contract.query) : undefined;
    const body = contract.body === undefined ? undefined : await parseBody(ctx, contract.body, contract);
    await handler(ctx, { body, query, params } as RouteInput<B, Q, P>);
  };
  Object.defineProperty(parseThenHandle, "name", { value: handler.name || "handler" });
  router[contract.method](contract.path, ...(contract.guard ?? []), parseThenHandle);
}

function parseParams(ctx: ApiContext, params: Params | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(params ?? {})) {
    const parsed = spec.schema.safeParse(String(ctx.params[name] ?? ""));
    if (!parsed.success) throw spec.refuse(name);
    out[name] = parsed.data;
  }
  return out;
}

/** A query parameter the route does not declare is refused; it is named only when it looks like a name (it is input too). */
function refuseUnknownQuery(ctx: ApiContext, schema: z.ZodObject | undefined): void {
  const known = new Set(Object.keys(schema?.shape ?? {}));
  for (const name of Object.keys(ctx.query)) {
    if (!known.has(name)) throw new CaError("invalid-input", "unknown query parameter", { field: name.length <= 40 && /^[A-Za-z]+$/.test(name) ? name : "query" });
  }
}

/** The declared query parameters, each at most once, validated by the route's schema. */
function parseQuery(ctx: ApiContext, schema: z.ZodObject): unknown {
  const values: Record<string, string | undefined> = {};
  for (const name of Object.keys(schema.shape)) {
    const v = ctx.query[name];
    if (Array.isArray(v)) throw new CaError("invalid-input", `${name} may be given once`, { field: name });
    values[name] = v;
  }
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join(".") || "query";
    throw new CaError("invalid-input", issue?.message ?? "invalid", { field });
  }
  return parsed.data;
}

async function parseBody(ctx: ApiContext, schema: z.ZodType, contract: RouteContract<z.ZodType | undefined, z.ZodObject | undefined, Params | undefined>): Promise<unknown> {
  const absent = contract.bodyOptional === "if-length" ? !ctx.request.length : contract.bodyOptional === "if-json" ? !ctx.is("application/json") : false;
  return absent ? schema.parse({}) : readJson(ctx, schema, contract.bodyLimit ?? DEFAULT_JSON_LIMIT);
}

/** `/v1` + `/admin/approvals/:id` → `/v1/admin/approvals/{id}`. */
function documentedPath(c: { readonly prefix?: string; readonly path: string; readonly docPath?: string }): string {
  return c.docPath ?? `${c.prefix ?? "/v1"}${c.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`;
}

/** A zod schema as JSON Schema (the request as sent: before transforms), without `$schema`. */
export function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return rest;
}

const accepts = (schema: z.ZodType, value: unknown): boolean => schema.safeParse(value).success;

function operationDoc(c: RouteContract<z.ZodType | undefined, z.ZodObject | undefined, Params | undefined>): OperationDoc {
  const parameters: ParameterDoc[] = [
    ...Object.entries(c.params ?? {}).map(([name, p]) => ({ name, in: "path" as const, required: true, ...(p.description ? { description: p.description } : {}), schema: jsonSchemaOf(p.schema) })),
    ...Object.entries(c.query?.shape ?? {}).map(([name, s]) => {
      const schema = s as z.ZodType;
      const description = schema.description;
      return { name, in: "query" as const, ...(accepts(schema, undefined) ? {} : { required: true }), ...(description ? { description } : {}), schema: jsonSchemaOf(schema) };
    }),
    ...Object.entries(c.headers ?? {}).map(([name, h]) => ({ name, in: "header" as const, ...(h.required ? { required: true } : {}), ...(h.description ? { description: h.description } : {}) })),
  ];
  // Path parameters the route reads without a schema are still documented (the matrix fills them in).
  for (const m of c.path.matchAll(/:([A-Za-z0-9_]+)/g)) {
    if (!parameters.some((p) => p.in === "path" && p.name === m[1])) parameters.unshift({ name: m[1]!, in: "path", required: true });
  }
  const body = c.bodyDoc ?? c.body;
  return {
    summary: c.summary,
    ...(c.roles ? { roles: c.roles } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(body ? { requestBody: jsonSchemaOf(body), ...(c.bodyOptional ? { requestBodyOptional: true } : {}) } : {}),
    responses: c.responses,
  };
}
