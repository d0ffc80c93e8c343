import Router from "@koa/router";
import { z } from "zod";
import type { AuditCheckpointer, AuditCheckpointStore } from "../../ca/audit/audit-checkpoint.js";
import type { AuditVerifier } from "../../ca/audit/audit-verifier.js";
import { CaError } from "../../ca/errors.js";
import type { AuditEntry } from "../../ca/types.js";
import type { AuditSearch } from "../../db/audit-log-reader.js";
import { operatorOf, type ApiState } from "../api-state.js";
import type { OpenApiDocument } from "../openapi.js";
import { route } from "../route-contract.js";
import { adminOnly, type AdminRouteAuth } from "./admin-common.js";

export interface AdminAuditRouteDeps extends AdminRouteAuth {
  readonly verifier: Pick<AuditVerifier, "verifyAndRecord">;
  readonly search: (s: AuditSearch) => Promise<AuditEntry[]>;
  readonly checkpoints: Pick<AuditCheckpointStore, "list">;
  readonly checkpointer: () => Promise<Pick<AuditCheckpointer, "checkpoint">>;
}

const MAX_PAGE = 1000;

/** An ISO instant, or an ISO date meaning its JST midnight. */
const instant = (name: string) =>
  z
    .string({ error: `${name} is required (ISO 8601 date or date-time)` })
    .transform((v, ctx) => {
      const t = /^\d{4}-\d{2}-\d{2}$/.test(v) ? Date.parse(`${v}T00:00:00+09:00`) : /^\d{4}-\d{2}-\d{2}T/.test(v) ? Date.parse(v) : NaN;
      if (Number.isNaN(t)) {
        ctx.issues.push({ code: "custom", message: `${name} must be an ISO 8601 date or date-time`, input: v });
        return z.NEVER;
      }
      return new Date(t);
    });
const wholeNumber = (name: string) => z.string().regex(/^[0-9]{1,15}$/, `${name} must be a whole number`);

const searchQuery = z.object({
  from: instant("from"),
  to: instant("to"),
  afterSeq: wholeNumber("afterSeq").optional(),
  limit: z
    .string()
    .regex(/^[0-9]{1,4}$/, `limit must be 1–${MAX_PAGE}`)
    .transform(Number)
    .refine((n) => n >= 1 && n <= MAX_PAGE, `limit must be 1–${MAX_PAGE}`)
    .optional()
    .describe(`1–${MAX_PAGE}, default 200`),
  action: z.string().regex(/^[a-z][a-z0-9.-]{0,63}$/, "action must be an action name").optional(),
});
const checkpointQuery = z.object({ afterId: wholeNumber("afterId").optional() });

const entryJson = (e: AuditEntry) => ({ ...e, at: e.at.toISOString() });

/**
 * docs/api.md §7 audit (auditor; 告示334号 第4-4(6)): read the operation history by time, verify the hash
 * chain and its signed checkpoints, list checkpoints, sign one now.
 */
export function adminAuditRoutes(deps: AdminAuditRouteDeps) {
  return (openapi: OpenApiDocument): Router<ApiState> => {
    const router = new Router<ApiState>();
    const auditor = { roles: ["admin", "auditor"], guard: adminOnly(deps, "auditor") };

    route(
      router,
      openapi,
      { method: "get", path: "/admin/audit", summary: "Audit log entries written in [from, to), in chain order; page with afterSeq", ...auditor, query: searchQuery, responses: { "200": "{entries: [...], nextAfterSeq}", "400": "malformed parameter" } },
      async function searchAuditLog(ctx, { query }) {
        if (query.to <= query.from) throw new CaError("invalid-input", "to must be after from", { field: "to" });
        const limit = query.limit ?? 200;
        const entries = await deps.search({ from: query.from, to: query.to, limit, ...(query.afterSeq !== undefined ? { afterSeq: Number(query.afterSeq) } : {}), ...(query.action ? { action: query.action } : {}) });
        ctx.set("Cache-Control", "no-store");
        ctx.body = { entries: entries.map(entryJson), nextAfterSeq: entries.length === limit ? entries[entries.length - 1]!.seq : null };
      },
    );

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/admin/audit/verify",
        summary: "Verify the whole hash chain from its anchor and every signed checkpoint: finds edited, deleted, reordered and inserted entries",
        ...auditor,
        responses: { "200": "{ok, entries, anchor, checkpoints, findings: [{seq, problem, detail}]}" },
      },
      async function verifyAuditChain(ctx) {
        ctx.body = await deps.verifier.verifyAndRecord(`operator:${operatorOf(ctx).operatorId}`);
      },
    );

    route(router, openapi, { method: "get", path: "/admin/audit/checkpoints", summary: "Signed checkpoints of the audit chain (200 per page)", ...auditor, query: checkpointQuery, responses: { "200": "{checkpoints: [...]}" } }, async function listCheckpoints(ctx, { query }) {
      const list = await deps.checkpoints.list(Number(query.afterId ?? "0"), 200);
      ctx.body = {
        checkpoints: list.map((c) => ({ id: c.id, seq: c.seq, hash: c.hash, at: c.at.toISOString(), kind: c.kind, keyLabel: c.keyLabel, algorithm: c.algorithm, publicKey: Buffer.from(c.publicKey).toString("base64"), signature: Buffer.from(c.signature).toString("base64") })),
      };
    });

    route(router, openapi, { method: "post", path: "/admin/audit/checkpoints", summary: "Sign a checkpoint of the chain head now (HSM key)", ...auditor, responses: { "201": "the checkpoint" } }, async function signCheckpoint(ctx) {
      const cp = await (await deps.checkpointer()).checkpoint("manual", `operator:${operatorOf(ctx).operatorId}`);
      ctx.status = cp ? 201 : 200;
      ctx.body = cp ? { id: cp.id, seq: cp.seq, hash: cp.hash, at: cp.at.toISOString(), kind: cp.kind } : { id: null, detail: "the audit log is empty" };
    });
    return router;
  };
}
