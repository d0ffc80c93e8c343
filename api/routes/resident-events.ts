import Router from "@koa/router";
import type { Context, Middleware } from "koa";
import { z } from "zod";
import { CaError } from "../../ca/errors.js";
import type { OperatorPrincipal } from "../../ca/operators/operator-principal.js";
import type { StoredEventRow } from "../../ca/residents/resident-event-ports.js";
import type { OperatorRole } from "../../ca/operators/roles.js";
import type { ResidentEventProcessor } from "../../events/resident-event-processor.js";
import { requireClient, type ClientIdentity } from "../client-identity.js";
import { readJson } from "../json-body.js";
import type { OpenApiDocument } from "../openapi.js";

export interface ResidentEventRouteDeps {
  readonly processor: Pick<ResidentEventProcessor, "process" | "replay" | "resume" | "halt" | "status" | "list" | "get">;
  readonly requireOperator: (...roles: OperatorRole[]) => Middleware;
}

/** CONTRACT §5: at most 1000 events per request. */
export const MAX_EVENTS_PER_REQUEST = 1000;
/**
 * Body limit of `POST /v1/resident-events` when it reads the body itself (createApp must then skip
 * its 256 kB parser for this path): 1000 events of a few kB, or a 1 MB event that is to be rejected
 * and stored rather than refused whole.
 */
export const RESIDENT_EVENTS_BODY_LIMIT = 16 * 1024 * 1024;

const batchBody = z.strictObject({ events: z.array(z.unknown()).min(1).max(MAX_EVENTS_PER_REQUEST) });
const replayBody = z.strictObject({ allowOverCap: z.boolean().optional() });
const resumeBody = z.strictObject({ deferred: z.enum(["apply", "reject"]).optional() });

const actorOf = (ctx: Context): string => `operator:${(ctx.state.operator as OperatorPrincipal).operatorId}`;
const optionalJson = async <S extends z.ZodType>(ctx: Context, schema: S): Promise<z.infer<S>> => (ctx.request.length ? readJson(ctx, schema) : schema.parse({}));

/** A stored event for operators: its metadata, and the event itself (valid payload or raw text). */
function storedView(row: StoredEventRow, withContent: boolean): Record<string, unknown> {
  return {
    seq: row.seq,
    eventId: row.eventId,
    key: row.key,
    residentCode: row.residentCode,
    type: row.type,
    effectiveDate: row.effectiveDate,
    outcome: row.outcome,
    reason: row.reason,
    revoked: row.revoked,
    transport: row.transport,
    source: row.source,
    size: row.rawSize,
    attempts: row.attempts,
    receivedAt: row.receivedAt.toISOString(),
    processedAt: row.processedAt?.toISOString() ?? null,
    ...(withContent ? { event: row.payload, raw: row.raw } : {}),
  };
}

function seqParam(ctx: Context): number {
  const s = String(ctx.params.seq ?? "");
  if (!/^[1-9][0-9]{0,15}$/.test(s)) throw new CaError("invalid-input", "must be a positive integer", { field: "seq" });
  return Number(s);
}

/**
 * CONTRACT §5 `POST /v1/resident-events` (feed client certificate): `{events: [… ≤ 1000]}` →
 * `200 {results: [{eventId, outcome, revoked, reason?}]}`, one per event in order. `outcome` is
 * applied, duplicate, rejected, or deferred (stored, not applied: the safety valve is halted).
 *
 * Admin (admin workstation + ca-operator): list rejected/deferred events, read one, replay a rejected
 * one, halt and resume the safety valve, read its state.
 */
export function residentEventRoutes(deps: ResidentEventRouteDeps) {
  return (openapi: OpenApiDocument): Router => {
    const router = new Router();

    router.post("/resident-events", requireClient("feed"), async (ctx) => {
      const body = await readJson(ctx, batchBody, RESIDENT_EVENTS_BODY_LIMIT);
      const client = ctx.state.client as ClientIdentity;
      const results = await deps.processor.process(
        body.events.map((json) => ({ raw: { json }, source: `http:${client.id}` })),
        "http",
        `feed:${client.id}`,
      );
      ctx.body = { results };
    });
    openapi.add("post", "/v1/resident-events", {
      summary: "Resident change events from the register feed (CONTRACT §5): one outcome per event",
      roles: ["feed"],
      requestBody: { type: "object", required: ["events"], properties: { events: { type: "array", maxItems: MAX_EVENTS_PER_REQUEST } } },
      responses: { "200": "{results: [{eventId, outcome: applied|duplicate|rejected|deferred, revoked, reason?}]}", "400": "not {events: [...]} or over 1000 events", "413": "body too large" },
    });

    const admin = [requireClient("admin"), deps.requireOperator("ca-operator")];

    router.get("/admin/events", ...admin, async (ctx) => {
      const outcome = String(ctx.query.outcome ?? "rejected");
      if (outcome !== "rejected" && outcome !== "deferred") throw new CaError("invalid-input", "must be rejected or deferred", { field: "outcome" });
      const after = Number(ctx.query.after ?? 0);
      const limit = Number(ctx.query.limit ?? 100);
      if (!Number.isSafeInteger(after) || after < 0) throw new CaError("invalid-input", "must be a non-negative integer", { field: "after" });
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) throw new CaError("invalid-input", "must be 1–1000", { field: "limit" });
      const rows = await deps.processor.list(outcome, after, limit);
      ctx.body = { events: rows.map((r) => storedView(r, false)), next: rows.length === limit ? rows[rows.length - 1]!.seq : null };
    });
    openapi.add("get", "/v1/admin/events", {
      summary: "Rejected (or deferred) resident events, oldest first",
      roles: ["admin", "ca-operator"],
      parameters: [
        { name: "outcome", in: "query", description: "rejected (default) or deferred" },
        { name: "after", in: "query", description: "sequence number to continue after" },
        { name: "limit", in: "query", description: "1–1000, default 100" },
      ],
      responses: { "200": "{events, next}" },
    });

    router.get("/admin/events/safety-valve", ...admin, async (ctx) => {
      const s = await deps.processor.status();
      ctx.body = {
        halted: s.valve.halted,
        haltedAt: s.valve.haltedAt?.toISOString() ?? null,
        haltReason: s.valve.haltReason,
        resumedAt: s.valve.resumedAt?.toISOString() ?? null,
        resumedBy: s.valve.resumedBy,
        events: s.events,
        limits: s.limits,
      };
    });
    openapi.add("get", "/v1/admin/events/safety-valve", { summary: "The event safety valve: halted or running, limits, events per outcome", roles: ["admin", "ca-operator"], responses: { "200": "the state" } });

    router.post("/admin/events/resume", ...admin, async (ctx) => {
      const body = await optionalJson(ctx, resumeBody);
      ctx.body = await deps.processor.resume(actorOf(ctx), body.deferred ? { deferred: body.deferred } : {});
    });
    openapi.add("post", "/v1/admin/events/resume", {
      summary: "Resume a halted safety valve: apply the deferred events (or reject them for one-by-one replay)",
      roles: ["admin", "ca-operator"],
      requestBody: { type: "object", properties: { deferred: { type: "string", enum: ["apply", "reject"] } } },
      responses: { "200": "{applied, rejected, deferredRejected, revoked, resumed}" },
    });

    router.post("/admin/events/halt", ...admin, async (ctx) => {
      ctx.body = { halted: true, changed: await deps.processor.halt(actorOf(ctx)) };
    });
    openapi.add("post", "/v1/admin/events/halt", { summary: "Halt the safety valve by hand: events are stored, not applied, until resumed", roles: ["admin", "ca-operator"], responses: { "200": "{halted, changed}" } });

    router.get("/admin/events/:seq", ...admin, async (ctx) => {
      const found = await deps.processor.get(seqParam(ctx));
      if (!found) throw new CaError("not-found", "no stored event with this sequence number");
      ctx.body = storedView(found, true);
    });
    openapi.add("get", "/v1/admin/events/{seq}", { summary: "One stored event, with its content", roles: ["admin", "ca-operator"], parameters: [{ name: "seq", in: "path", required: true }], responses: { "200": "the event", "404": "no such event" } });

    router.post("/admin/events/:seq/replay", ...admin, async (ctx) => {
      const body = await optionalJson(ctx, replayBody);
      ctx.body = await deps.processor.replay(seqParam(ctx), actorOf(ctx), { allowOverCap: body.allowOverCap === true });
    });
    openapi.add("post", "/v1/admin/events/{seq}/replay", {
      summary: "Replay a rejected event after a fix (allowOverCap after reviewing an event over the revocation cap)",
      roles: ["admin", "ca-operator"],
      parameters: [{ name: "seq", in: "path", required: true }],
      requestBody: { type: "object", properties: { allowOverCap: { type: "boolean" } } },
      responses: { "200": "{eventId, outcome, revoked, reason?}", "404": "no such event", "409": "not a rejected event" },
    });
    return router;
  };
}
