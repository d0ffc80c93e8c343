import Router from "@koa/router";
import type { Context, Middleware, Next } from "koa";
import { z } from "zod";
import type { ClientCertificateStore } from "../../ca/operators/client-register.js";
import { CaError } from "../../ca/errors.js";
import type { HolidayCalendar, OperatingSchedule } from "../../ca/operators/operating-hours.js";
import type { OperatorAuth } from "../../ca/operators/operator-auth.js";
import type { TerminalStore } from "../../ca/operators/operator-ports.js";
import type { Clock } from "../../ca/ports.js";
import type { AuditStore } from "../../ca/stores.js";
import { auditLoginRefusal, requireRegisteredClient } from "../client-register-guard.js";
import { clientOf, operatorOf, type ApiState } from "../api-state.js";
import { requireClient } from "../client-identity.js";
import type { OpenApiDocument } from "../openapi.js";
import { route } from "../route-contract.js";
import { requireActiveTerminal, requireOperatorSession } from "../operator-session.js";

export interface SessionRoutesDeps {
  readonly auth: Pick<OperatorAuth, "login" | "authenticate" | "logout" | "changePassword">;
  readonly terminals: Pick<TerminalStore, "get">;
  /** The admin-workstation register: an unregistered or revoked admin certificate cannot log in. */
  readonly clients: Pick<ClientCertificateStore, "get">;
  readonly clock: Clock;
  readonly holidays: HolidayCalendar;
  /**
   * Where a login refused before any password check (unregistered or revoked certificate, terminal
   * outside its hours) is audited as a failed "operator.login", so the anomaly monitor sees it too.
   */
  readonly audit?: { readonly store: Pick<AuditStore, "append">; readonly clock: Clock };
  /** Schedule of terminals without their own; default 08:30–17:15 JST on working days. */
  readonly defaultSchedule?: OperatingSchedule;
}

// Bounds only: the password policy applies when a password is set, not when one is presented.
const loginBody = z.object({ operatorId: z.string().min(1).max(64), password: z.string().min(1).max(1024) }).strict();
const passwordBody = z
  .object({
    currentPassword: z.string().min(1).max(1024),
    newPassword: z.string().min(1).max(1024).describe("then checked against the password policy (ca/operators/password-policy.ts): 422 naming the rule"),
  })
  .strict();

/**
 * docs/api.md §4 operator sessions: `POST /v1/sessions` (log in), `DELETE /v1/sessions/current` (log
 * off), `POST /v1/operators/me/password` (change one's own password). Sessions open from terminal or
 * admin-workstation client certificates; a terminal must be enrolled, active and inside its
 * operating hours. Mounted under /v1 by createApp (`v1Routers`).
 */
export function sessionRoutes(deps: SessionRoutesDeps): (openapi: OpenApiDocument) => Router<ApiState> {
  return (openapi) => {
    const router = new Router<ApiState>();
    const fromWorkstation = [
      requireClient("terminal", "admin"),
      requireRegisteredClient({ clients: deps.clients, terminals: deps.terminals }),
      requireActiveTerminal(deps.terminals, deps.clock, deps.holidays, deps.defaultSchedule),
    ];

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/sessions",
        summary: "Log an operator in on this terminal: answers a bearer token bound to the client certificate",
        roles: ["terminal", "admin"],
        guard: [auditedGates(fromWorkstation, deps.audit)],
        body: loginBody,
        responses: {
          "201": "session opened: {token, expiresAt, mustChangePassword}; with mustChangePassword only password change and logoff are allowed",
          "400": "malformed body (the problem names the field)",
          "401": "operator id or password is wrong, the account is inactive or locked (after 3 consecutive failures, 告示334号 第4-4(8)), or none of the operator's roles may be used on this kind of workstation: one answer for all",
          "403": "client certificate not registered or revoked; terminal outside operating hours",
          "429": "too many login attempts from this client certificate or source address (Retry-After)",
          "503": "too many logins in progress on this node (Retry-After)",
        },
      },
      async function logIn(ctx, { body }) {
        const client = clientOf(ctx);
        const result = await deps.auth.login({ operatorId: body.operatorId, password: body.password, terminal: { id: client.id, fingerprint: client.fingerprint256, kind: client.role }, source: ctx.ip || undefined });
        ctx.status = 201;
        ctx.body = { token: result.token, expiresAt: result.expiresAt.toISOString(), mustChangePassword: result.mustChangePassword };
      },
    );

    route(
      router,
      openapi,
      {
        method: "delete",
        path: "/sessions/current",
        summary: "Log off: end the current operator session",
        roles: ["terminal", "admin", "any operator"],
        guard: [requireOperatorSession(deps.auth)],
        responses: { "204": "session ended", "401": "no valid session for this client certificate" },
      },
      async function logOff(ctx) {
        await deps.auth.logout(operatorOf(ctx));
        ctx.status = 204;
      },
    );

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/operators/me/password",
        summary: "Change one's own password (required at first logon and after 90 days); ends the operator's other sessions",
        roles: ["terminal", "admin", "any operator"],
        guard: [...fromWorkstation, requireOperatorSession(deps.auth)],
        body: passwordBody,
        responses: {
          "204": "password changed",
          "400": "malformed body (the problem names the field)",
          "401": "no valid session for this client certificate",
          "403": "current password is wrong (field currentPassword), or the terminal may not operate now",
          "422": "new password refused by the policy (field newPassword; the detail names the rule)",
          "423": "account locked: the wrong current password was the third consecutive failure",
        },
      },
      async function changeOwnPassword(ctx, { body }) {
        await deps.auth.changePassword(operatorOf(ctx), body.currentPassword, body.newPassword);
        ctx.status = 204;
      },
    );
    return router;
  };
}

/**
 * Runs `gates` in order; a refusal by one of them (not by what follows) is audited as a failed login.
 * The denial audit of createApp skips POST /v1/sessions (OperatorAuth audits logins itself), so without
 * this a certificate refused at the door would leave no trace.
 */
function auditedGates(gates: readonly Middleware[], audit: SessionRoutesDeps["audit"]): Middleware {
  return async function gatedLogin(ctx: Context, next: Next): Promise<void> {
    let passed = false;
    const run = async (i: number): Promise<void> => {
      const gate = gates[i];
      if (gate === undefined) {
        passed = true;
        return next();
      }
      await gate(ctx, () => run(i + 1));
    };
    try {
      await run(0);
    } catch (err) {
      if (!passed && audit !== undefined && err instanceof CaError) await auditLoginRefusal(audit, ctx, err);
      throw err;
    }
  };
}

