import Router from "@koa/router";
import { z } from "zod";
import type { OperatorAdmin, PendingOperatorChange } from "../../ca/operators/operator-admin.js";
import { operatorOf, type ApiContext, type ApiState } from "../api-state.js";
import type { OpenApiDocument } from "../openapi.js";
import { route } from "../route-contract.js";
import { adminOnly, idPathParam, type AdminRouteAuth } from "./admin-common.js";

export interface AdminOperatorRouteDeps extends AdminRouteAuth {
  readonly operators: OperatorAdmin;
}

const addBody = z
  .object({
    operatorId: z.string().min(1).max(64),
    roles: z.array(z.string().max(64)).min(1).max(10),
    displayName: z.string().min(1).max(200).nullable().optional(),
  })
  .strict();
const rolesBody = z.object({ roles: z.array(z.string().max(64)).min(1).max(10) }).strict();
const passwordBody = z.object({ mode: z.enum(["expire", "reset"]) }).strict();

const ROLES = ["admin", "security-officer"];

/** Issue 12: a change that waits for a second security officer answers 202 with its approval request. */
function isPending(r: object): r is PendingOperatorChange {
  return "approvalId" in r;
}
function answerPending(ctx: ApiContext, p: PendingOperatorChange): void {
  ctx.status = 202;
  ctx.set("Location", `/v1/admin/approvals/${p.approvalId}`);
  ctx.body = p;
}
const PENDING = "{approvalId, kind, status: pending, expiresAt}: a second security officer decides (POST /v1/admin/approvals/{id}/approve)";
const byId = { id: idPathParam };

/**
 * docs/api.md §7 operators (security officer only; 告示334号 第4-4(2),(5)): list, register (a one-time
 * password is answered once), change roles (separation of duties: security-officer and ca-admin never
 * together), unlock, deactivate/reactivate, force a password change. Nobody administers their own account.
 * Issue 12: registering a four-eyes account, granting a four-eyes role and resetting a password answer
 * 202 with an approval request that a second security officer decides (ca/approvals/operator-approvals.ts).
 */
export function adminOperatorRoutes(deps: AdminOperatorRouteDeps) {
  return (openapi: OpenApiDocument): Router<ApiState> => {
    const router = new Router<ApiState>();
    const so = { roles: ROLES, guard: adminOnly(deps, "security-officer") };

    route(router, openapi, { method: "get", path: "/admin/operators", summary: "List operators with roles, lock and password state", ...so, responses: { "200": "{operators: [...]}", "401": "no operator session", "403": "not a security officer" } }, async function listOperators(ctx) {
      ctx.body = { operators: await deps.operators.list(operatorOf(ctx)) };
    });

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/admin/operators",
        summary:
          "Register an operator. With a role that requests or approves four-eyes operations (ca-operator, ca-admin, security-officer) this is a request (202) a second security officer approves; otherwise answers a one-time password (shown once) to change at first logon",
        ...so,
        body: addBody,
        responses: { "201": "{operatorId, roles, mustChangePassword, oneTimePassword}", "202": PENDING, "400": "malformed field", "409": "operator id exists", "422": "separation of duties: security-officer with ca-admin" },
      },
      async function registerOperator(ctx, { body }) {
        const result = await deps.operators.add(operatorOf(ctx), { operatorId: body.operatorId, roles: body.roles, ...(body.displayName ? { displayName: body.displayName } : {}) });
        if (isPending(result)) return answerPending(ctx, result);
        ctx.status = 201;
        ctx.set("Location", `/v1/admin/operators/${result.operatorId}`);
        ctx.body = result;
      },
    );

    route(router, openapi, { method: "get", path: "/admin/operators/:id", summary: "One operator", ...so, params: byId, responses: { "200": "the operator", "404": "unknown operator" } }, async function showOperator(ctx, { params }) {
      ctx.body = await deps.operators.get(operatorOf(ctx), params.id);
    });

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/admin/operators/:id/roles",
        summary: "Replace an operator's roles (not one's own). Adding a four-eyes role, or any role to an unconfirmed account, is a request (202) a second security officer approves",
        ...so,
        params: byId,
        body: rolesBody,
        responses: { "200": "the operator", "202": PENDING, "403": "own account", "404": "unknown operator", "422": "separation of duties" },
      },
      async function setOperatorRoles(ctx, { params, body }) {
        const result = await deps.operators.setRoles(operatorOf(ctx), params.id, body.roles);
        if (isPending(result)) return answerPending(ctx, result);
        ctx.body = result;
      },
    );

    route(router, openapi, { method: "post", path: "/admin/operators/:id/unlock", summary: "Clear a lockout after 3 failed logins (告示334号 第4-4(8))", ...so, params: byId, responses: { "200": "the operator", "404": "unknown operator" } }, async function unlockOperator(ctx, { params }) {
      ctx.body = await deps.operators.unlock(operatorOf(ctx), params.id);
    });

    for (const [action, active] of [["deactivate", false], ["reactivate", true]] as const) {
      route(
        router,
        openapi,
        {
          method: "post",
          path: `/admin/operators/:id/${action}`,
          summary: active ? "Reactivate an operator account" : "Deactivate an operator account; its sessions end at once",
          ...so,
          params: byId,
          responses: { "200": "the operator", "403": "own account", "404": "unknown operator" },
        },
        async function setOperatorActive(ctx, { params }) {
          ctx.body = await deps.operators.setActive(operatorOf(ctx), params.id, active);
        },
      );
    }

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/admin/operators/:id/password",
        summary:
          "Force a password change: `expire` (change at next logon, at once) or `reset` (a request, 202: on a second security officer's approval a one-time password split between the two officers; ends the operator's sessions)",
        ...so,
        params: byId,
        body: passwordBody,
        responses: { "200": "{operator} (expire)", "202": PENDING, "403": "own account", "404": "unknown operator" },
      },
      async function forcePasswordChange(ctx, { params, body }) {
        const result = await deps.operators.forcePasswordChange(operatorOf(ctx), params.id, body.mode);
        if (isPending(result)) return answerPending(ctx, result);
        ctx.body = result;
      },
    );
    return router;
  };
}
