import Router from "@koa/router";
import { z } from "zod";
import type { ApprovalEngine } from "../../ca/approvals/approval-engine.js";
import { RETENTION_PURGE, type RetentionService } from "../../ca/records/retention.js";
import { operatorOf, type ApiState } from "../api-state.js";
import type { OpenApiDocument } from "../openapi.js";
import { route } from "../route-contract.js";
import { adminOnly, type AdminRouteAuth } from "./admin-common.js";
import { answerPending, approvalJson } from "./admin-approvals.js";

export interface AdminRetentionRouteDeps extends AdminRouteAuth {
  readonly retention: Pick<RetentionService, "run" | "taskNames">;
  readonly approvals: Pick<ApprovalEngine, "request">;
}

const dryRunBody = z.object({ tasks: z.array(z.string().max(64)).max(20).optional() }).strict();
/** The purge request as documented; the purge executor (ca/records/retention.ts) validates it. */
const purgeDoc = z.object({ tasks: z.array(z.string()).optional(), purpose: z.string() });

/**
 * Retention (docs/domain.md §6): a dry run reports what is due and changes nothing; a real purge is a
 * four-eyes request (CA administrator asks, security officer or another CA administrator approves).
 */
export function adminRetentionRoutes(deps: AdminRetentionRouteDeps) {
  return (openapi: OpenApiDocument): Router<ApiState> => {
    const router = new Router<ApiState>();

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/admin/retention/dry-run",
        summary: `What a purge would remove now, per task (${"audit-log, superseded resident records, relying-party access records, certificate personal fields"}); changes nothing`,
        roles: ["admin", "ca-admin", "auditor"],
        guard: adminOnly(deps, "ca-admin", "auditor"),
        body: dryRunBody,
        bodyOptional: "if-json",
        responses: { "200": "{dryRun: true, tasks: [{name, rule, cutoff, eligible}]}" },
      },
      async function retentionDryRun(ctx, { body }) {
        ctx.body = await deps.retention.run(operatorOf(ctx), { dryRun: true, ...(body.tasks ? { only: body.tasks } : {}) });
      },
    );

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/admin/retention/purges",
        summary: "Ask for a purge of records past retention; runs when a security officer or another CA administrator approves",
        roles: ["admin", "ca-admin"],
        guard: adminOnly(deps, "ca-admin"),
        body: z.record(z.string(), z.unknown()),
        bodyDoc: purgeDoc,
        responses: { "202": "the pending approval request", "400": "malformed field" },
      },
      async function requestPurge(ctx, { body }) {
        const record = await deps.approvals.request(operatorOf(ctx), RETENTION_PURGE, body);
        answerPending(ctx, `/v1/admin/approvals/${record.id}`, approvalJson(record));
      },
    );
    return router;
  };
}
