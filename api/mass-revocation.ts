import Router from "@koa/router";
import { z } from "zod";
import type { ApprovalEngine } from "../ca/approvals/approval-engine.js";
import type { ApprovalExecutor } from "../ca/approvals/approval.js";
import { CaError } from "../ca/errors.js";
import { actorName, type Actor } from "../ca/operators/operator-principal.js";
import type { Clock } from "../ca/ports.js";
import type { AccessScope } from "../ca/access/resident-access.js";
import type { RevocationContext, RevocationService } from "../ca/revocation/revocation-service.js";
import { defaultRevocationWindow, remainingInWindow, type RevocationWindowLimits, type RevocationWindowStore } from "../ca/revocation/revocation-window.js";
import type { ResidentEventProcessor } from "../events/resident-event-processor.js";
import { clientOf, operatorOf, type ApiState } from "./api-state.js";
import type { OpenApiDocument } from "./openapi.js";
import { route } from "./route-contract.js";
import { adminOnly, type AdminRouteAuth } from "./routes/admin-common.js";
import { answerPending, approvalJson } from "./routes/admin-approvals.js";

/**
 * Four-eyes operations of the revocation part (issue 7 §4; 告示334号 第4-8(2), 第2-3(1)): an operator's
 * mass revocation above a threshold, and resuming the change-event safety valve through an approval.
 */
export const MASS_REVOCATION = "mass-revocation";
export const EVENTS_RESUME = "events-resume";
/**
 * Above this many certificates within the window (per operator, every route together: issue 12 §3,
 * ca/revocation/revocation-window.ts), an operator's revocation needs a second operator's approval.
 */
export const DEFAULT_MASS_REVOCATION_THRESHOLD = defaultRevocationWindow.limit;

const massBody = z.strictObject({
  serials: z.array(z.string().regex(/^[0-9a-f]{2,40}$/, "lower-case hex serial")).min(1).max(10_000),
  reason: z.enum(["unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded", "cessationOfOperation"]),
  comment: z.string().max(500).optional(),
});
type MassParams = z.infer<typeof massBody>;

/** The CA-side scope of a bulk revocation: its reason (and comment) is the stated purpose. */
function bulkScope(clientId: string, p: MassParams): AccessScope {
  return { kind: "ca-side", clientId, purpose: p.comment ? `${p.reason}: ${p.comment}` : p.reason };
}

async function revokeAll(revocation: Pick<RevocationService, "revoke">, actor: Actor, p: MassParams, context: RevocationContext): Promise<Record<string, unknown>> {
  const revoked: string[] = [];
  const refused: Array<{ serial: string; problem: string }> = [];
  for (const serial of new Set(p.serials)) {
    try {
      await revocation.revoke(actor, serial, { reason: p.reason, comment: p.comment ?? null }, context);
      revoked.push(serial);
    } catch (e) {
      if (!(e instanceof CaError)) throw e;
      refused.push({ serial, problem: e.kind });
    }
  }
  return { revoked, refused };
}

export function massRevocationExecutor(revocation: Pick<RevocationService, "revoke">): ApprovalExecutor<MassParams> {
  return {
    kind: MASS_REVOCATION,
    description: "revocation of many certificates at once by an operator",
    requestRoles: ["ca-operator"],
    approveRoles: ["ca-admin", "ca-operator"],
    parse(input) {
      const r = massBody.safeParse(input);
      if (!r.success) throw new CaError("invalid-input", r.error.issues[0]?.message ?? "invalid", { field: r.error.issues[0]?.path.join(".") || "body" });
      return r.data;
    },
    auditDetail: (p) => ({ count: p.serials.length, reason: p.reason }),
    // Approved by a second operator: outside the approver's window (the audit entries carry approvalId).
    execute: (approval, approver) => revokeAll(revocation, approver, approval.params, { clientId: `approval:${approval.id}`, scope: bulkScope(`approval:${approval.id}`, approval.params), approvalId: approval.id }),
  };
}

export function eventsResumeExecutor(processor: Pick<ResidentEventProcessor, "resume">): ApprovalExecutor<{ deferred: "apply" | "reject" }> {
  return {
    kind: EVENTS_RESUME,
    description: "resume applying resident change events after the safety valve tripped",
    requestRoles: ["ca-operator"],
    approveRoles: ["ca-admin", "ca-operator"],
    parse(input) {
      const d = (input as { deferred?: unknown } | null)?.deferred ?? "apply";
      if (d !== "apply" && d !== "reject") throw new CaError("invalid-input", "deferred must be apply or reject", { field: "deferred" });
      return { deferred: d };
    },
    async execute(approval, approver) {
      const actor = typeof approver === "string" ? approver : `operator:${approver.operatorId}`;
      return processorResume(processor, actor, approval.params.deferred);
    },
  };
}

async function processorResume(processor: Pick<ResidentEventProcessor, "resume">, actor: string, deferred: "apply" | "reject"): Promise<Record<string, unknown>> {
  return { ...(await processor.resume(actor, { deferred })) } as Record<string, unknown>;
}

export interface MassRevocationRouteDeps extends AdminRouteAuth {
  readonly approvals: Pick<ApprovalEngine, "request">;
  readonly revocation: Pick<RevocationService, "revoke">;
  /** The operator's revocations of the window, counted in the database (db/revocation-window-store.ts). */
  readonly window: RevocationWindowStore;
  readonly clock: Clock;
  /** Default: more than 10 within an hour. */
  readonly windowLimits?: RevocationWindowLimits;
}

/**
 * `POST /v1/admin/revocations` (CA operator): at once while the operator stays within the sliding
 * window (ca/revocation/revocation-window.ts: 10 within an hour, counting single revocations and holds too), through
 * an approval (202) when this request would take the operator past it — so 6 + 6 needs approval as 12 does.
 */
export function massRevocationRoutes(deps: MassRevocationRouteDeps) {
  const limits = deps.windowLimits ?? defaultRevocationWindow;
  return (openapi: OpenApiDocument): Router<ApiState> => {
    const router = new Router<ApiState>();
    route(
      router,
      openapi,
      {
        method: "post",
        path: "/admin/revocations",
        summary: `Revoke several certificates. An operator may revoke (and hold) at most ${limits.limit} certificates within ${Math.round(limits.windowMs / 60_000)} minutes, all routes together; a request that would go past that needs a second operator's approval (202), however it is split`,
        roles: ["admin", "ca-operator"],
        guard: adminOnly(deps, "ca-operator"),
        body: massBody,
        responses: { "200": "{revoked, refused}", "202": "the pending approval request (this request would take the operator past the window)", "400": "malformed field" },
      },
      async function revokeMany(ctx, { body }) {
        const operator = operatorOf(ctx);
        const remaining = await remainingInWindow(deps.window, limits, actorName(operator), deps.clock.now());
        if (new Set(body.serials).size > remaining) {
          const record = await deps.approvals.request(operator, MASS_REVOCATION, body);
          return answerPending(ctx, `/v1/admin/approvals/${record.id}`, approvalJson(record));
        }
        const client = clientOf(ctx);
        const clientId = `${client.role}:${client.id}`;
        ctx.body = await revokeAll(deps.revocation, operator, body, { clientId, scope: bulkScope(clientId, body) });
      },
    );
    return router;
  };
}
