import Router from "@koa/router";
import type { AuditCheckpointer, AuditCheckpointStore } from "../../ca/audit/audit-checkpoint.js";
import type { AuditVerifier } from "../../ca/audit/audit-verifier.js";
import { CaError } from "../../ca/errors.js";
import type { AuditEntry } from "../../ca/types.js";
import type { AuditSearch } from "../../db/audit-log-reader.js";
import type { OpenApiDocument } from "../openapi.js";
import { adminOnly, operatorOf, queryParam, type AdminRouteAuth } from "./admin-common.js";

export interface AdminAuditRouteDeps extends AdminRouteAuth {
  readonly verifier: Pick<AuditVerifier, "verifyAndRecord">;
  readonly search: (s: AuditSearch) => Promise<AuditEntry[]>;
  readonly checkpoints: Pick<AuditCheckpointStore, "list">;
  readonly checkpointer: () => Promise<Pick<AuditCheckpointer, "checkpoint">>;
}

const MAX_PAGE = 1000;

/** An ISO instant, or an ISO date meaning its JST midnight. */
function instant(ctx: Parameters<typeof queryParam>[0], name: string): Date {
  const v = queryParam(ctx, name);
  if (v === undefined) throw new CaError("invalid-input", `${name} is required (ISO 8601 date or date-time)`, { field: name });
  const t = /^\d{4}-\d{2}-\d{2}$/.test(v) ? Date.parse(`${v}T00:00:00+09:00`) : /^\d{4}-\d{2}-\d{2}T/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw new CaError("invalid-input", `${name} must be an ISO 8601 date or date-time`, { field: name });
  return new Date(t);
}

const entryJson = (e: AuditEntry) => ({ ...e, at: e.at.toISOString() });

/**
 * CONTRACT §7 audit (auditor; 告示334号 第4-4(6)): read the operation history by time, verify the hash
 * chain and its signed checkpoints, list checkpoints, sign one now.
 */
export function adminAuditRoutes(deps: AdminAuditRouteDeps) {
  return (openapi: OpenApiDocument): Router => {
    const router = new Router();
    const auditor = adminOnly(deps, "auditor");

    router.get("/admin/audit", ...auditor, async (ctx) => {
      const from = instant(ctx, "from");
      const to = instant(ctx, "to");
      if (to <= from) throw new CaError("invalid-input", "to must be after from", { field: "to" });
      const after = queryParam(ctx, "afterSeq");
      if (after !== undefined && !/^[0-9]{1,15}$/.test(after)) throw new CaError("invalid-input", "afterSeq must be a whole number", { field: "afterSeq" });
      const limitText = queryParam(ctx, "limit") ?? "200";
      const limit = /^[0-9]{1,4}$/.test(limitText) ? Number(limitText) : NaN;
      if (!(limit >= 1 && limit <= MAX_PAGE)) throw new CaError("invalid-input", `limit must be 1–${MAX_PAGE}`, { field: "limit" });
      const action = queryParam(ctx, "action");
      if (action !== undefined && !/^[a-z][a-z0-9.-]{0,63}$/.test(action)) throw new CaError("invalid-input", "action must be an action name", { field: "action" });
      const entries = await deps.search({ from, to, limit, ...(after !== undefined ? { afterSeq: Number(after) } : {}), ...(action ? { action } : {}) });
      ctx.set("Cache-Control", "no-store");
      ctx.body = { entries: entries.map(entryJson), nextAfterSeq: entries.length === limit ? entries[entries.length - 1]!.seq : null };
    });
    openapi.add("get", "/v1/admin/audit", {
      summary: "Audit log entries written in [from, to), in chain order; page with afterSeq",
      roles: ["admin", "auditor"],
      parameters: [
        { name: "from", in: "query", required: true },
        { name: "to", in: "query", required: true },
        { name: "afterSeq", in: "query" },
        { name: "action", in: "query" },
        { name: "limit", in: "query", description: "1–1000, default 200" },
      ],
      responses: { "200": "{entries: [...], nextAfterSeq}", "400": "malformed parameter" },
    });

    router.post("/admin/audit/verify", ...auditor, async (ctx) => {
      ctx.body = await deps.verifier.verifyAndRecord(`operator:${operatorOf(ctx).operatorId}`);
    });
    openapi.add("post", "/v1/admin/audit/verify", {
      summary: "Verify the whole hash chain from its anchor and every signed checkpoint: finds edited, deleted, reordered and inserted entries",
      roles: ["admin", "auditor"],
      responses: { "200": "{ok, entries, anchor, checkpoints, findings: [{seq, problem, detail}]}" },
    });

    router.get("/admin/audit/checkpoints", ...auditor, async (ctx) => {
      const after = queryParam(ctx, "afterId") ?? "0";
      if (!/^[0-9]{1,15}$/.test(after)) throw new CaError("invalid-input", "afterId must be a whole number", { field: "afterId" });
      const list = await deps.checkpoints.list(Number(after), 200);
      ctx.body = {
        checkpoints: list.map((c) => ({ id: c.id, seq: c.seq, hash: c.hash, at: c.at.toISOString(), kind: c.kind, keyLabel: c.keyLabel, algorithm: c.algorithm, publicKey: Buffer.from(c.publicKey).toString("base64"), signature: Buffer.from(c.signature).toString("base64") })),
      };
    });
    openapi.add("get", "/v1/admin/audit/checkpoints", { summary: "Signed checkpoints of the audit chain (200 per page)", roles: ["admin", "auditor"], parameters: [{ name: "afterId", in: "query" }], responses: { "200": "{checkpoints: [...]}" } });

    router.post("/admin/audit/checkpoints", ...auditor, async (ctx) => {
      const cp = await (await deps.checkpointer()).checkpoint("manual", `operator:${operatorOf(ctx).operatorId}`);
      ctx.status = cp ? 201 : 200;
      ctx.body = cp ? { id: cp.id, seq: cp.seq, hash: cp.hash, at: cp.at.toISOString(), kind: cp.kind } : { id: null, detail: "the audit log is empty" };
    });
    openapi.add("post", "/v1/admin/audit/checkpoints", { summary: "Sign a checkpoint of the chain head now (HSM key)", roles: ["admin", "auditor"], responses: { "201": "the checkpoint" } });
    return router;
  };
}
