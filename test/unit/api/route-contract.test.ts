/**
 * Issue 15 item 3, one source of truth per HTTP contract: the zod schemas a route declares with
 * api/route-contract.ts `route()` both validate its requests (problems naming the field, through the
 * one error middleware) and produce its OpenAPI entry.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import Router from "@koa/router";
import type Koa from "koa";
import { z } from "zod";
import { CaError } from "../../../ca/errors.js";
import { createApp } from "../../../api/app.js";
import type { ApiState } from "../../../api/api-state.js";
import { createLogger } from "../../../api/logger.js";
import { Metrics } from "../../../api/metrics.js";
import type { OpenApiDocument } from "../../../api/openapi.js";
import { pathParam, route } from "../../../api/route-contract.js";

interface Answer {
  readonly status: number;
  readonly json: Record<string, unknown>;
}

async function call(app: Koa, method: string, path: string, body?: string): Promise<Answer> {
  const server = http.createServer(app.callback() as http.RequestListener);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const port = (server.address() as AddressInfo).port;
    return await new Promise<Answer>((resolve, reject) => {
      const headers = body === undefined ? {} : { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) };
      const req = http.request({ host: "127.0.0.1", port, method, path, headers }, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString("utf8")));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
      });
      req.on("error", reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  } finally {
    server.close();
  }
}

const widgetId = pathParam(z.string().regex(/^w[0-9]+$/), () => new CaError("not-found", "no such widget"), "a widget id");
const seen: unknown[] = [];

function widgetRoutes(openapi: OpenApiDocument): Router<ApiState> {
  const router = new Router<ApiState>();
  route(
    router,
    openapi,
    {
      method: "post",
      prefix: "",
      path: "/widgets/:id/paint",
      summary: "Paint a widget",
      roles: ["admin", "ca-operator"],
      params: { id: widgetId },
      query: z.object({ dryRun: z.enum(["yes", "no"], { error: "dryRun must be yes or no" }).optional().describe("only say what would happen") }),
      body: z.strictObject({ colour: z.string().min(1).max(20), coats: z.number().int().min(1).max(3).optional() }),
      responses: { "200": "the painted widget", "404": "no such widget" },
    },
    async function paintWidget(ctx, { params, query, body }) {
      seen.push({ params, query, body });
      ctx.body = { id: params.id, colour: body.colour, dryRun: query.dryRun ?? "no" };
    },
  );
  return router;
}

const app = (): Koa => createApp({ logger: createLogger("silent"), metrics: new Metrics({ defaultMetrics: false }), caGenerations: { list: async () => [], get: async () => undefined }, readiness: [], publicRouters: [widgetRoutes] });

describe("route contract (api/route-contract.ts): one declaration validates and documents a route", () => {
  it("hands the handler the parsed params, query and body", async () => {
    seen.length = 0;
    const res = await call(app(), "POST", "/widgets/w7/paint?dryRun=yes", JSON.stringify({ colour: "red" }));
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { id: "w7", colour: "red", dryRun: "yes" });
    assert.deepEqual(seen, [{ params: { id: "w7" }, query: { dryRun: "yes" }, body: { colour: "red" } }]);
  });

  it("refuses with problems naming the field: path (the param's own refusal), query (once, then the schema), body", async () => {
    const a = app();
    const badId = await call(a, "POST", "/widgets/x/paint", JSON.stringify({ colour: "red" }));
    assert.deepEqual([badId.status, badId.json.detail], [404, "no such widget"]);
    const twice = await call(a, "POST", "/widgets/w1/paint?dryRun=yes&dryRun=no", JSON.stringify({ colour: "red" }));
    assert.deepEqual([twice.status, twice.json.field, twice.json.detail], [400, "dryRun", "dryRun may be given once"]);
    const badQuery = await call(a, "POST", "/widgets/w1/paint?dryRun=maybe", JSON.stringify({ colour: "red" }));
    assert.deepEqual([badQuery.status, badQuery.json.field, badQuery.json.detail], [400, "dryRun", "dryRun must be yes or no"]);
    const badBody = await call(a, "POST", "/widgets/w1/paint", JSON.stringify({ colour: "" }));
    assert.deepEqual([badBody.status, badBody.json.field], [400, "colour"]);
    const unknown = await call(a, "POST", "/widgets/w1/paint", JSON.stringify({ colour: "red", shine: true }));
    assert.deepEqual([unknown.status, unknown.json.field], [400, "shine"]);
    const none = await call(a, "POST", "/widgets/w1/paint");
    assert.deepEqual([none.status, none.json.field], [400, "body"]);
  });

  it("documents the operation from the same schemas: x-roles, parameters and the request body", async () => {
    const doc = (await call(app(), "GET", "/openapi.json")).json as { paths: Record<string, Record<string, Record<string, unknown>>> };
    const op = doc.paths["/widgets/{id}/paint"]?.post;
    assert.ok(op, "documented under its OpenAPI path");
    assert.deepEqual(op["x-roles"], ["admin", "ca-operator"]);
    assert.deepEqual(op.parameters, [
      { name: "id", in: "path", required: true, description: "a widget id", schema: { type: "string", pattern: "^w[0-9]+$" } },
      { name: "dryRun", in: "query", description: "only say what would happen", schema: { description: "only say what would happen", type: "string", enum: ["yes", "no"] } },
    ]);
    const body = (op.requestBody as { content: Record<string, { schema: Record<string, unknown> }> }).content["application/json"]!.schema;
    assert.deepEqual(body.required, ["colour"]);
    assert.equal(body.additionalProperties, false);
    assert.deepEqual(body.properties, { colour: { type: "string", minLength: 1, maxLength: 20 }, coats: { type: "integer", minimum: 1, maximum: 3 } });
  });
});
