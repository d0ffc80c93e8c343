import Router from "@koa/router";
import { z } from "zod";
import type { ApprovalEngine } from "../../ca/approvals/approval-engine.js";
import { RETENTION_PURGE, type RetentionService } from "../../ca/records/retention.js";
import { readJson } from "../json-body.js";
import type { OpenApiDocument } from "../openapi.js";
import { adminOnly, operatorOf, type AdminRouteAuth } from "./admin-common.js";
import { approvalJson } from "./admin-approvals.js";

export interface AdminRetentionRouteDeps extends AdminRouteAuth {
  readonly retention: Pick<RetentionService, "run" | "taskNames">;
  readonly approvals: Pick<ApprovalEngine, "request">;
}

const dryRunBody = z.object({ tasks: z.array(z.string().max(64)).max(20).optional() }).strict();

/**
 * Retention (DOMAIN §6): a dry run reports what is due and changes nothing; a real purge is a
 * four-eyes request (CA administrator asks, security officer or another CA administrator approves).
 */
export function adminRetentionRoutes(deps: AdminRetentionRouteDeps) {
  return (openapi: OpenApiDocument): Router => {
    const router = new Router();

    router.post("/admin/retention/dry-run", ...adminOnly(deps, "ca-admin", "auditor"), async (ctx) => {
      const body = ctx.is("application/json") ? await readJson(ctx, dryRunBody) : {};
      ctx.body = await deps.retention.run(operatorOf(ctx), { dryRun: true, ...(body.tasks ? { only: body.tasks } : {}) });
    });
    openapi.add("post", "/v1/admin/retention/dry-run", {
      summary: `What a purge would remove now, per task (${"audit-log, superseded resident records, relying-party access records, certificate personal fields"}); changes nothing`,
      roles: ["admin", "ca-admin", "auditor"],
      requestBody: { type: "object", properties: { tasks: { type: "array", items: { type: "string" } } } },
      responses: { "200": "{dryRun: true, tasks: [{name, rule, cutoff, eligible}]}" },
    });

    router.post("/admin/retention/purges", ...adminOnly(deps, "ca-admin"), async (ctx) => {
      const body = await readJson(ctx, z.record(z.string(), z.unknown()));
      const record = await deps.approvals.request(operatorOf(ctx), RETENTION_PURGE, body);
      ctx.status = 202;
      ctx.set("Location", `/v1/admin/approvals/${record.id}`);
      ctx.body = approvalJson(record);
    });
    openapi.add("post", "/v1/admin/retention/purges", {
      summary: "Ask for a purge of records past retention; runs when a security officer or another CA administrator approves",
      roles: ["admin", "ca-admin"],
      requestBody: { type: "object", required: ["purpose"], properties: { tasks: { type: "array", items: { type: "string" } }, purpose: { type: "string" } } },
      responses: { "202": "the pending approval request", "400": "malformed field" },
    });
    return router;
  };
}
