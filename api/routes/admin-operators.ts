import Router from "@koa/router";
import { z } from "zod";
import type { Context } from "koa";
import type { OperatorAdmin, PendingOperatorChange } from "../../ca/operators/operator-admin.js";
import { readJson } from "../json-body.js";
import type { OpenApiDocument } from "../openapi.js";
import { adminOnly, idParam, noStore, operatorOf, type AdminRouteAuth } from "./admin-common.js";

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
function answerPending(ctx: Context, p: PendingOperatorChange): void {
  ctx.status = 202;
  ctx.set("Location", `/v1/admin/approvals/${p.approvalId}`);
  ctx.body = p;
}
const PENDING = "{approvalId, kind, status: pending, expiresAt}: a second security officer decides (POST /v1/admin/approvals/{id}/approve)";
const idParamDoc = [{ name: "id", in: "path" as const, required: true }];

/**
 * CONTRACT §7 operators (security officer only; 告示334号 第4-4(2),(5)): list, register (a one-time
 * password is answered once), change roles (separation of duties: security-officer and ca-admin never
 * together), unlock, deactivate/reactivate, force a password change. Nobody administers their own account.
 * Issue 12: registering a four-eyes account, granting a four-eyes role and resetting a password answer
 * 202 with an approval request that a second security officer decides (ca/approvals/operator-approvals.ts).
 */
export function adminOperatorRoutes(deps: AdminOperatorRouteDeps) {
  return (openapi: OpenApiDocument): Router => {
    const router = new Router();
    const so = adminOnly(deps, "security-officer");

    router.get("/admin/operators", ...so, async (ctx) => {
      ctx.body = { operators: await deps.operators.list(operatorOf(ctx)) };
    });
    openapi.add("get", "/v1/admin/operators", { summary: "List operators with roles, lock and password state", roles: ROLES, responses: { "200": "{operators: [...]}", "401": "no operator session", "403": "not a security officer" } });

    router.post("/admin/operators", ...so, async (ctx) => {
      const body = await readJson(ctx, addBody);
      const result = await deps.operators.add(operatorOf(ctx), { operatorId: body.operatorId, roles: body.roles, ...(body.displayName ? { displayName: body.displayName } : {}) });
      noStore(ctx);
      if (isPending(result)) return answerPending(ctx, result);
      ctx.status = 201;
      ctx.set("Location", `/v1/admin/operators/${result.operatorId}`);
      ctx.body = result;
    });
    openapi.add("post", "/v1/admin/operators", {
      summary:
        "Register an operator. With a role that requests or approves four-eyes operations (ca-operator, ca-admin, security-officer) this is a request (202) a second security officer approves; otherwise answers a one-time password (shown once) to change at first logon",
      roles: ROLES,
      requestBody: { type: "object", required: ["operatorId", "roles"], additionalProperties: false, properties: { operatorId: { type: "string", maxLength: 64 }, roles: { type: "array", items: { type: "string" } }, displayName: { type: "string" } } },
      responses: { "201": "{operatorId, roles, mustChangePassword, oneTimePassword}", "202": PENDING, "400": "malformed field", "409": "operator id exists", "422": "separation of duties: security-officer with ca-admin" },
    });

    router.get("/admin/operators/:id", ...so, async (ctx) => {
      ctx.body = await deps.operators.get(operatorOf(ctx), idParam(ctx, "id"));
    });
    openapi.add("get", "/v1/admin/operators/{id}", { summary: "One operator", roles: ROLES, parameters: idParamDoc, responses: { "200": "the operator", "404": "unknown operator" } });

    router.post("/admin/operators/:id/roles", ...so, async (ctx) => {
      const body = await readJson(ctx, rolesBody);
      const result = await deps.operators.setRoles(operatorOf(ctx), idParam(ctx, "id"), body.roles);
      if (isPending(result)) return answerPending(ctx, result);
      ctx.body = result;
    });
    openapi.add("post", "/v1/admin/operators/{id}/roles", {
      summary: "Replace an operator's roles (not one's own). Adding a four-eyes role, or any role to an unconfirmed account, is a request (202) a second security officer approves",
      roles: ROLES,
      parameters: idParamDoc,
      requestBody: { type: "object", required: ["roles"], additionalProperties: false, properties: { roles: { type: "array", items: { type: "string" } } } },
      responses: { "200": "the operator", "202": PENDING, "403": "own account", "404": "unknown operator", "422": "separation of duties" },
    });

    router.post("/admin/operators/:id/unlock", ...so, async (ctx) => {
      ctx.body = await deps.operators.unlock(operatorOf(ctx), idParam(ctx, "id"));
    });
    openapi.add("post", "/v1/admin/operators/{id}/unlock", { summary: "Clear a lockout after 3 failed logins (告示334号 第4-4(8))", roles: ROLES, parameters: idParamDoc, responses: { "200": "the operator", "404": "unknown operator" } });

    for (const [action, active] of [["deactivate", false], ["reactivate", true]] as const) {
      router.post(`/admin/operators/:id/${action}`, ...so, async (ctx) => {
        ctx.body = await deps.operators.setActive(operatorOf(ctx), idParam(ctx, "id"), active);
      });
      openapi.add("post", `/v1/admin/operators/{id}/${action}`, {
        summary: active ? "Reactivate an operator account" : "Deactivate an operator account; its sessions end at once",
        roles: ROLES,
        parameters: idParamDoc,
        responses: { "200": "the operator", "403": "own account", "404": "unknown operator" },
      });
    }

    router.post("/admin/operators/:id/password", ...so, async (ctx) => {
      const body = await readJson(ctx, passwordBody);
      const result = await deps.operators.forcePasswordChange(operatorOf(ctx), idParam(ctx, "id"), body.mode);
      noStore(ctx);
      if (isPending(result)) return answerPending(ctx, result);
      ctx.body = result;
    });
    openapi.add("post", "/v1/admin/operators/{id}/password", {
      summary:
        "Force a password change: `expire` (change at next logon, at once) or `reset` (a request, 202: on a second security officer's approval a one-time password split between the two officers; ends the operator's sessions)",
      roles: ROLES,
      parameters: idParamDoc,
      requestBody: { type: "object", required: ["mode"], additionalProperties: false, properties: { mode: { type: "string", enum: ["expire", "reset"] } } },
      responses: { "200": "{operator} (expire)", "202": PENDING, "403": "own account", "404": "unknown operator" },
    });
    return router;
  };
}
