import { Readable } from "node:stream";
import Router from "@koa/router";
import { z } from "zod";
import type { ApprovalEngine } from "../../ca/approvals/approval-engine.js";
import { ISSUANCE_EXPORT, type IssuanceExport } from "../../ca/approvals/approval-export.js";
import { approvalStatuses, type ApprovalRecord } from "../../ca/approvals/approval.js";
import { CaError } from "../../ca/errors.js";
import { operatorOf, type ApiContext, type ApiState } from "../api-state.js";
import type { OpenApiDocument } from "../openapi.js";
import { pathParam, route } from "../route-contract.js";
import { adminOnly, type AdminRouteAuth } from "./admin-common.js";

export interface AdminApprovalRouteDeps extends AdminRouteAuth {
  readonly approvals: ApprovalEngine;
  readonly exports: Pick<IssuanceExport, "download">;
}

const requestBody = z.object({ kind: z.string().min(1).max(64), params: z.record(z.string(), z.unknown()).optional() }).strict();
const rejectBody = z.object({ reason: z.string().max(200).optional() }).strict();
const APPROVAL_ID = /^[A-Za-z0-9_-]{22}$/;

/** The JSON of an approval request. */
export function approvalJson(r: ApprovalRecord) {
  return {
    approvalId: r.id,
    kind: r.kind,
    status: r.status,
    requestedBy: r.requestedBy,
    requestedAt: r.requestedAt.toISOString(),
    expiresAt: r.expiresAt.toISOString(),
    params: r.params,
    decidedBy: r.decidedBy,
    decidedAt: r.decidedAt?.toISOString() ?? null,
    executedAt: r.executedAt?.toISOString() ?? null,
    result: r.result,
    failure: r.failure,
    collectedAt: r.consumedAt?.toISOString() ?? null,
  };
}

/** The `{id}` of an approval request; one that cannot exist is not found. */
const approvalId = pathParam(z.string().regex(APPROVAL_ID), () => new CaError("not-found", "no approval request with this id"));
const listQuery = z.object({
  status: z.enum(approvalStatuses, { error: `status must be one of ${approvalStatuses.join(", ")}` }).optional(),
  kind: z.string().optional(),
});
/** The export request as documented; the export executor (ca/approvals/approval-export.ts) validates it. */
const exportDoc = z.object({
  from: z.iso.date(),
  to: z.iso.date(),
  municipalityCode: z.string().optional(),
  format: z.enum(["csv", "jsonl"]).optional(),
  purpose: z.string(),
});
const anyObject = z.record(z.string(), z.unknown());

/** Who may use the approval routes at all; each kind then names its own requester and approver roles. */
const DECIDERS = ["ca-operator", "ca-admin", "security-officer"] as const;
const READERS = [...DECIDERS, "auditor"] as const;

/**
 * docs/api.md §7 four-eyes approvals and the bulk export (告示334号 第4-8(2)):
 * `POST /v1/admin/exports` → 202 {approvalId}; `POST /v1/admin/approvals/{id}/approve` by another
 * operator; `GET /v1/admin/exports/{id}` streams the file once to the requester. Generic routes list,
 * show, request, approve and reject requests of every registered kind.
 */
export function adminApprovalRoutes(deps: AdminApprovalRouteDeps) {
  return (openapi: OpenApiDocument): Router<ApiState> => {
    const router = new Router<ApiState>();
    const readers = adminOnly(deps, ...READERS);
    const deciders = adminOnly(deps, ...DECIDERS);

    route(router, openapi, { method: "get", path: "/admin/approvals", summary: "Approval requests, newest first (50)", roles: ["admin", ...READERS], guard: readers, query: listQuery, responses: { "200": "{approvals: [...], kinds: [...]}" } }, async function listApprovals(ctx, { query }) {
      const records = await deps.approvals.list({ ...(query.status ? { status: query.status } : {}), ...(query.kind ? { kind: query.kind } : {}) });
      ctx.body = { approvals: records.map(approvalJson), kinds: deps.approvals.kinds() };
    });

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/admin/approvals",
        summary: "Request a four-eyes operation of a registered kind; it runs once another operator approves",
        roles: ["admin", ...DECIDERS],
        guard: deciders,
        body: requestBody,
        responses: { "202": "the pending request", "403": "role may not request this kind", "404": "unknown kind" },
      },
      async function requestApproval(ctx, { body }) {
        const record = await deps.approvals.request(operatorOf(ctx), body.kind, body.params ?? {});
        answerPending(ctx, `/v1/admin/approvals/${record.id}`, approvalJson(record));
      },
    );

    route(router, openapi, { method: "get", path: "/admin/approvals/:id", summary: "One approval request", roles: ["admin", ...READERS], guard: readers, params: { id: approvalId }, responses: { "200": "the request", "404": "unknown id" } }, async function showApproval(ctx, { params }) {
      ctx.body = approvalJson(await deps.approvals.get(params.id));
    });

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/admin/approvals/:id/approve",
        summary: "Approve (and so execute) a pending request: another operator than the requester, holding an approver role of its kind",
        roles: ["admin", ...DECIDERS],
        guard: deciders,
        params: { id: approvalId },
        responses: {
          "200": "the request, executed or failed; with `handover.approverPart` when it made a one-time password (shown once)",
          "403": "own request, not an approver of this kind, an unconfirmed account, or a sponsor of the requester's or the subject's account",
          "404": "unknown id",
          "409": "not pending (decided or expired)",
        },
      },
      async function approveRequest(ctx, { params }) {
        const done = await deps.approvals.approve(operatorOf(ctx), params.id);
        // Issue 12: the approver's half of a one-time password, in this answer only (never stored).
        ctx.body = done.approverPart === undefined ? approvalJson(done) : { ...approvalJson(done), handover: { approverPart: done.approverPart, order: "second: the requester's part comes first" } };
      },
    );

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/admin/approvals/:id/handover",
        summary: "Collect, once, the requester's half of the one-time password an approved operator creation or password reset made (the approver got the other half)",
        roles: ["admin", "security-officer"],
        guard: adminOnly(deps, "security-officer"),
        params: { id: approvalId },
        responses: { "200": "{approvalId, kind, requesterPart}", "403": "not the requester", "404": "unknown id", "409": "not executed yet, nothing to collect, or collected already" },
      },
      async function collectHandover(ctx, { params }) {
        const part = await deps.approvals.collectHandover(operatorOf(ctx), params.id);
        ctx.body = { approvalId: params.id, kind: part.kind, requesterPart: part.requesterPart, order: "first: the approver's part follows" };
      },
    );

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/admin/approvals/:id/reject",
        summary: "Reject a pending request (an approver of its kind), or withdraw one's own",
        roles: ["admin", ...DECIDERS],
        guard: deciders,
        params: { id: approvalId },
        body: rejectBody,
        bodyOptional: "if-json",
        responses: { "200": "the request", "403": "not an approver of this kind", "404": "unknown id", "409": "not pending" },
      },
      async function rejectRequest(ctx, { params, body }) {
        ctx.body = approvalJson(await deps.approvals.reject(operatorOf(ctx), params.id, body.reason));
      },
    );

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/admin/exports",
        summary: "Ask for a bulk export of issuance records (needs another operator's approval)",
        roles: ["admin", "ca-operator"],
        guard: adminOnly(deps, "ca-operator"),
        body: anyObject,
        bodyDoc: exportDoc,
        responses: { "202": "{approvalId, status: pending, expiresAt}", "400": "malformed field" },
      },
      async function requestExport(ctx, { body }) {
        const record = await deps.approvals.request(operatorOf(ctx), ISSUANCE_EXPORT, body);
        answerPending(ctx, `/v1/admin/exports/${record.id}`, { approvalId: record.id, status: record.status, expiresAt: record.expiresAt.toISOString() });
      },
    );

    route(
      router,
      openapi,
      {
        method: "get",
        path: "/admin/exports/:id",
        summary: "Download an approved export, once, as its requester (streamed CSV or JSON Lines)",
        roles: ["admin", "ca-operator"],
        guard: adminOnly(deps, "ca-operator"),
        params: { id: approvalId },
        responses: { "200": "text/csv or application/jsonl", "403": "not the requester", "404": "unknown id", "409": "not approved yet, collected already, or the window closed" },
      },
      async function downloadExport(ctx, { params }) {
        const download = await deps.exports.download(operatorOf(ctx), params.id);
        ctx.set("Content-Disposition", `attachment; filename="${download.filename}"`);
        ctx.type = download.contentType;
        ctx.body = Readable.from(download.body);
      },
    );
    return router;
  };
}

/** 202 Accepted with the pending request and where to follow it. */
export function answerPending(ctx: ApiContext, location: string, body: unknown): void {
  ctx.status = 202;
  ctx.set("Location", location);
  ctx.body = body;
}
