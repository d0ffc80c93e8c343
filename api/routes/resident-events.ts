import Router from "@koa/router";
import { z } from "zod";
import { CaError } from "../../ca/errors.js";
import type { StoredEventRow } from "../../ca/residents/resident-event-ports.js";
import type { OperatorRole } from "../../ca/operators/roles.js";
import type { ResidentEventProcessor } from "../../events/resident-event-processor.js";
import { clientOf, operatorOf, type ApiContext, type ApiMiddleware, type ApiState } from "../api-state.js";
import { requireClient } from "../client-identity.js";
import type { OpenApiDocument } from "../openapi.js";
import { pathParam, route } from "../route-contract.js";

export interface ResidentEventRouteDeps {
  readonly processor: Pick<ResidentEventProcessor, "process" | "replay" | "resume" | "halt" | "status" | "list" | "get">;
  readonly requireOperator: (...roles: OperatorRole[]) => ApiMiddleware;
}

/** docs/api.md §5: at most 1000 events per request. */
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

const listQuery = z.object({
  outcome: z
    .string()
    .optional()
    .transform((v) => v ?? "rejected")
    .pipe(z.enum(["rejected", "deferred"], { error: "must be rejected or deferred" }))
    .describe("rejected (default) or deferred"),
  after: z
    .string()
    .optional()
    .transform((v) => Number(v ?? 0))
    .refine((n) => Number.isSafeInteger(n) && n >= 0, "must be a non-negative integer")
    .describe("sequence number to continue after"),
  limit: z
    .string()
    .optional()
    .transform((v) => Number(v ?? 100))
    .refine((n) => Number.isSafeInteger(n) && n >= 1 && n <= 1000, "must be 1–1000")
    .describe("1–1000, default 100"),
});
/** The `{seq}` of a stored event: a positive integer. */
const seqParam = pathParam(
  z
    .string()
    .regex(/^[1-9][0-9]{0,15}$/)
    .transform(Number),
  () => new CaError("invalid-input", "must be a positive integer", { field: "seq" }),
);

const actorOf = (ctx: ApiContext): string => `operator:${operatorOf(ctx).operatorId}`;

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

/**
 * docs/api.md §5 `POST /v1/resident-events` (feed client certificate): `{events: [… ≤ 1000]}` →
 * `200 {results: [{eventId, outcome, revoked, reason?}]}`, one per event in order. `outcome` is
 * applied, duplicate, rejected, or deferred (stored, not applied: the safety valve is halted).
 *
 * Admin (admin workstation + ca-operator): list rejected/deferred events, read one, replay a rejected
 * one, halt and resume the safety valve, read its state.
 */
export function residentEventRoutes(deps: ResidentEventRouteDeps) {
  return (openapi: OpenApiDocument): Router<ApiState> => {
    const router = new Router<ApiState>();

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/resident-events",
        summary: "Resident change events from the register feed (docs/api.md §5): one outcome per event",
        roles: ["feed"],
        guard: [requireClient("feed")],
        body: batchBody,
        bodyLimit: RESIDENT_EVENTS_BODY_LIMIT,
        responses: { "200": "{results: [{eventId, outcome: applied|duplicate|rejected|deferred, revoked, reason?}]}", "400": "not {events: [...]} or over 1000 events", "413": "body too large" },
      },
      async function receiveEvents(ctx, { body }) {
        const client = clientOf(ctx);
        const results = await deps.processor.process(
          body.events.map((json) => ({ raw: { json }, source: `http:${client.id}` })),
          "http",
          `feed:${client.id}`,
        );
        ctx.body = { results };
      },
    );

    const admin = { roles: ["admin", "ca-operator"], guard: [requireClient("admin"), deps.requireOperator("ca-operator")] };

    route(router, openapi, { method: "get", path: "/admin/events", summary: "Rejected (or deferred) resident events, oldest first", ...admin, query: listQuery, responses: { "200": "{events, next}" } }, async function listEvents(ctx, { query }) {
      const rows = await deps.processor.list(query.outcome, query.after, query.limit);
      ctx.body = { events: rows.map((r) => storedView(r, false)), next: rows.length === query.limit ? rows[rows.length - 1]!.seq : null };
    });

    route(router, openapi, { method: "get", path: "/admin/events/safety-valve", summary: "The event safety valve: halted or running, limits, events per outcome", ...admin, responses: { "200": "the state" } }, async function safetyValveState(ctx) {
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

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/admin/events/resume",
        summary: "Resume a halted safety valve: apply the deferred events (or reject them for one-by-one replay)",
        ...admin,
        body: resumeBody,
        bodyOptional: "if-length",
        responses: { "200": "{applied, rejected, deferredRejected, revoked, resumed}" },
      },
      async function resumeEvents(ctx, { body }) {
        ctx.body = await deps.processor.resume(actorOf(ctx), body.deferred ? { deferred: body.deferred } : {});
      },
    );

    route(router, openapi, { method: "post", path: "/admin/events/halt", summary: "Halt the safety valve by hand: events are stored, not applied, until resumed", ...admin, responses: { "200": "{halted, changed}" } }, async function haltEvents(ctx) {
      ctx.body = { halted: true, changed: await deps.processor.halt(actorOf(ctx)) };
    });

    route(router, openapi, { method: "get", path: "/admin/events/:seq", summary: "One stored event, with its content", ...admin, params: { seq: seqParam }, responses: { "200": "the event", "404": "no such event" } }, async function showEvent(ctx, { params }) {
      const found = await deps.processor.get(params.seq);
      if (!found) throw new CaError("not-found", "no stored event with this sequence number");
      ctx.body = storedView(found, true);
    });

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/admin/events/:seq/replay",
        summary: "Replay a rejected event after a fix (allowOverCap after reviewing an event over the revocation cap)",
        ...admin,
        params: { seq: seqParam },
        body: replayBody,
        bodyOptional: "if-length",
        responses: { "200": "{eventId, outcome, revoked, reason?}", "404": "no such event", "409": "not a rejected event" },
      },
      async function replayEvent(ctx, { params, body }) {
        ctx.body = await deps.processor.replay(params.seq, actorOf(ctx), { allowOverCap: body.allowOverCap === true });
      },
    );
    return router;
  };
}
