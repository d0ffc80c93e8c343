import { Readable } from "node:stream";
import Router from "@koa/router";
import { z } from "zod";
import type { ApprovalEngine } from "../../ca/approvals/approval-engine.js";
import { ISSUANCE_EXPORT, type IssuanceExport } from "../../ca/approvals/approval-export.js";
import { approvalStatuses, type ApprovalRecord, type ApprovalStatus } from "../../ca/approvals/approval.js";
import { CaError } from "../../ca/errors.js";
import { readJson } from "../json-body.js";
import type { OpenApiDocument } from "../openapi.js";
import { adminOnly, operatorOf, queryParam, type AdminRouteAuth } from "./admin-common.js";

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

const approvalId = (raw: unknown): string => {
  const id = String(raw ?? "");
  if (!APPROVAL_ID.test(id)) throw new CaError("not-found", "no approval request with this id");
  return id;
};

/** Who may use the approval routes at all; each kind then names its own requester and approver roles. */
const DECIDERS = ["ca-operator", "ca-admin", "security-officer"] as const;
const READERS = [...DECIDERS, "auditor"] as const;

/**
 * CONTRACT §7 four-eyes approvals and the bulk export (告示334号 第4-8(2)):
 * `POST /v1/admin/exports` → 202 {approvalId}; `POST /v1/admin/approvals/{id}/approve` by another
 * operator; `GET /v1/admin/exports/{id}` streams the file once to the requester. Generic routes list,
 * show, request, approve and reject requests of every registered kind.
 */
export function adminApprovalRoutes(deps: AdminApprovalRouteDeps) {
  return (openapi: OpenApiDocument): Router => {
    const router = new Router();

    router.get("/admin/approvals", ...adminOnly(deps, ...READERS), async (ctx) => {
      const status = queryParam(ctx, "status");
      if (status !== undefined && !approvalStatuses.includes(status as ApprovalStatus)) throw new CaError("invalid-input", `status must be one of ${approvalStatuses.join(", ")}`, { field: "status" });
      const kind = queryParam(ctx, "kind");
      const records = await deps.approvals.list({ ...(status ? { status: status as ApprovalStatus } : {}), ...(kind ? { kind } : {}) });
      ctx.body = { approvals: records.map(approvalJson), kinds: deps.approvals.kinds() };
    });
    openapi.add("get", "/v1/admin/approvals", {
      summary: "Approval requests, newest first (50)",
      roles: ["admin", ...READERS],
      parameters: [{ name: "status", in: "query" }, { name: "kind", in: "query" }],
      responses: { "200": "{approvals: [...], kinds: [...]}" },
    });

    router.post("/admin/approvals", ...adminOnly(deps, ...DECIDERS), async (ctx) => {
      const body = await readJson(ctx, requestBody);
      const record = await deps.approvals.request(operatorOf(ctx), body.kind, body.params ?? {});
      ctx.status = 202;
      ctx.set("Location", `/v1/admin/approvals/${record.id}`);
      ctx.body = approvalJson(record);
    });
    openapi.add("post", "/v1/admin/approvals", {
      summary: "Request a four-eyes operation of a registered kind; it runs once another operator approves",
      roles: ["admin", ...DECIDERS],
      requestBody: { type: "object", required: ["kind"], properties: { kind: { type: "string" }, params: { type: "object" } } },
      responses: { "202": "the pending request", "403": "role may not request this kind", "404": "unknown kind" },
    });

    router.get("/admin/approvals/:id", ...adminOnly(deps, ...READERS), async (ctx) => {
      ctx.body = approvalJson(await deps.approvals.get(approvalId(ctx.params.id)));
    });
    openapi.add("get", "/v1/admin/approvals/{id}", { summary: "One approval request", roles: ["admin", ...READERS], parameters: [{ name: "id", in: "path", required: true }], responses: { "200": "the request", "404": "unknown id" } });

    router.post("/admin/approvals/:id/approve", ...adminOnly(deps, ...DECIDERS), async (ctx) => {
      const done = await deps.approvals.approve(operatorOf(ctx), approvalId(ctx.params.id));
      ctx.set("Cache-Control", "no-store");
      // Issue 12: the approver's half of a one-time password, in this answer only (never stored).
      ctx.body = done.approverPart === undefined ? approvalJson(done) : { ...approvalJson(done), handover: { approverPart: done.approverPart, order: "second: the requester's part comes first" } };
    });
    openapi.add("post", "/v1/admin/approvals/{id}/approve", {
      summary: "Approve (and so execute) a pending request: another operator than the requester, holding an approver role of its kind",
      roles: ["admin", ...DECIDERS],
      parameters: [{ name: "id", in: "path", required: true }],
      responses: {
        "200": "the request, executed or failed; with `handover.approverPart` when it made a one-time password (shown once)",
        "403": "own request, not an approver of this kind, an unconfirmed account, or a sponsor of the requester's or the subject's account",
        "404": "unknown id",
        "409": "not pending (decided or expired)",
      },
    });

    router.post("/admin/approvals/:id/handover", ...adminOnly(deps, "security-officer"), async (ctx) => {
      const part = await deps.approvals.collectHandover(operatorOf(ctx), approvalId(ctx.params.id));
      ctx.set("Cache-Control", "no-store");
      ctx.body = { approvalId: ctx.params.id, kind: part.kind, requesterPart: part.requesterPart, order: "first: the approver's part follows" };
    });
    openapi.add("post", "/v1/admin/approvals/{id}/handover", {
      summary: "Collect, once, the requester's half of the one-time password an approved operator creation or password reset made (the approver got the other half)",
      roles: ["admin", "security-officer"],
      parameters: [{ name: "id", in: "path", required: true }],
      responses: { "200": "{approvalId, kind, requesterPart}", "403": "not the requester", "404": "unknown id", "409": "not executed yet, nothing to collect, or collected already" },
    });

    router.post("/admin/approvals/:id/reject", ...adminOnly(deps, ...DECIDERS), async (ctx) => {
      const body = ctx.is("application/json") ? await readJson(ctx, rejectBody) : {};
      ctx.body = approvalJson(await deps.approvals.reject(operatorOf(ctx), approvalId(ctx.params.id), body.reason));
    });
    openapi.add("post", "/v1/admin/approvals/{id}/reject", {
      summary: "Reject a pending request (an approver of its kind), or withdraw one's own",
      roles: ["admin", ...DECIDERS],
      parameters: [{ name: "id", in: "path", required: true }],
      responses: { "200": "the request", "403": "not an approver of this kind", "404": "unknown id", "409": "not pending" },
    });

    router.post("/admin/exports", ...adminOnly(deps, "ca-operator"), async (ctx) => {
      const body = await readJson(ctx, z.record(z.string(), z.unknown()));
      const record = await deps.approvals.request(operatorOf(ctx), ISSUANCE_EXPORT, body);
      ctx.status = 202;
      ctx.set("Location", `/v1/admin/exports/${record.id}`);
      ctx.body = { approvalId: record.id, status: record.status, expiresAt: record.expiresAt.toISOString() };
    });
    openapi.add("post", "/v1/admin/exports", {
      summary: "Ask for a bulk export of issuance records (needs another operator's approval)",
      roles: ["admin", "ca-operator"],
      requestBody: {
        type: "object",
        required: ["from", "to", "purpose"],
        properties: { from: { type: "string", format: "date" }, to: { type: "string", format: "date" }, municipalityCode: { type: "string" }, format: { type: "string", enum: ["csv", "jsonl"] }, purpose: { type: "string" } },
      },
      responses: { "202": "{approvalId, status: pending, expiresAt}", "400": "malformed field" },
    });

    router.get("/admin/exports/:id", ...adminOnly(deps, "ca-operator"), async (ctx) => {
      const download = await deps.exports.download(operatorOf(ctx), approvalId(ctx.params.id));
      ctx.set("Cache-Control", "no-store");
      ctx.set("Content-Disposition", `attachment; filename="${download.filename}"`);
      ctx.type = download.contentType;
      ctx.body = Readable.from(download.body);
    });
    openapi.add("get", "/v1/admin/exports/{id}", {
      summary: "Download an approved export, once, as its requester (streamed CSV or JSON Lines)",
      roles: ["admin", "ca-operator"],
      parameters: [{ name: "id", in: "path", required: true }],
      responses: { "200": "text/csv or application/jsonl", "403": "not the requester", "404": "unknown id", "409": "not approved yet, collected already, or the window closed" },
    });
    return router;
  };
}
