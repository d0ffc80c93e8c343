import type { Context, Next } from "koa";
import { CaError } from "../ca/errors.js";
import type { HolidayCalendar, OperatingSchedule } from "../ca/operators/operating-hours.js";
import type { OperatorAuth } from "../ca/operators/operator-auth.js";
import type { TerminalStore } from "../ca/operators/operator-ports.js";
import type { OperatorPrincipal } from "../ca/operators/operator-principal.js";
import type { Clock } from "../ca/ports.js";
import type { OperatorRole } from "../ca/operators/roles.js";
import { assertTerminalMayOperate } from "../ca/operators/terminal-access.js";
import { bearerTokenOf } from "./bearer-token.js";
import { clientOf, stateOf } from "./api-state.js";

/**
 * Operator sessions on top of the client certificate (docs/api.md §4, §7): a bearer token from
 * `POST /v1/sessions`, valid only with the client certificate it was opened on. Mount these after
 * `requireClient()` (createApp does that for everything under /v1): they read `ctx.state.client`.
 */

/** The bearer token of `Authorization: Bearer <token>` (RFC 6750 §2.1), or undefined. */
export function bearerToken(ctx: Context): string | undefined {
  return bearerTokenOf(ctx.get("Authorization"));
}

async function principalOf(ctx: Context, auth: Pick<OperatorAuth, "authenticate">): Promise<OperatorPrincipal> {
  const client = clientOf(ctx);
  const token = bearerToken(ctx);
  if (token === undefined) {
    ctx.set("WWW-Authenticate", 'Bearer realm="jpki-ca"');
    throw new CaError("unauthenticated", "an operator session is required: Authorization: Bearer <token> from POST /v1/sessions");
  }
  try {
    // Only the roles usable on this kind of client certificate count (ca/operators/workstation-roles.ts).
    return await auth.authenticate(token, client.fingerprint256, client.role);
  } catch (err) {
    if (err instanceof CaError && err.kind === "unauthenticated") ctx.set("WWW-Authenticate", 'Bearer realm="jpki-ca", error="invalid_token"');
    throw err;
  }
}

/**
 * Requires an operator session holding at least one of `roles` (any operator when none are given),
 * whose password change is not due. Only the operator's roles usable on the kind of client certificate
 * of this request count (terminal-operator on OU=terminal; the CA-side roles on OU=admin). Sets `ctx.state.operator` (an OperatorPrincipal).
 * 401 without a valid session for this certificate; 403 naming the role needed; 403 while the
 * password must be changed (first logon, reset, or older than the policy allows).
 */
export function requireOperator(auth: Pick<OperatorAuth, "authenticate">, ...roles: OperatorRole[]) {
  return async function requireOperatorRole(ctx: Context, next: Next): Promise<void> {
    const operator = await principalOf(ctx, auth);
    if (operator.mustChangePassword) {
      throw new CaError("forbidden", "password change required before any other operation: POST /v1/operators/me/password");
    }
    // Issue 12: a ca-operator at a counter, or a terminal operator at an admin workstation, has no role here.
    if (operator.roles.length === 0) throw new CaError("forbidden", "none of this operator's roles may be used on this kind of workstation");
    // 告示334号 第4-4(5): each operator may do only the operations of their assigned duties.
    if (roles.length > 0 && !roles.some((r) => operator.roles.includes(r))) {
      throw new CaError("forbidden", `this operation needs the operator role ${roles.join(" or ")}`);
    }
    stateOf(ctx).operator = operator;
    await next();
  };
}

/**
 * Requires a valid operator session but no role, and lets a due password change through: only for
 * logging off and changing the password. Sets `ctx.state.operator`.
 */
export function requireOperatorSession(auth: Pick<OperatorAuth, "authenticate">) {
  return async function requireAnyOperatorSession(ctx: Context, next: Next): Promise<void> {
    stateOf(ctx).operator = await principalOf(ctx, auth);
    await next();
  };
}

/**
 * For a client certificate of machine role `terminal`: the terminal must be enrolled with this very
 * certificate, active (a revoked terminal gets 403) and inside its operating hours (403 "outside
 * operating hours"; 久御山町 規程 第23条). Other machine roles pass unchanged.
 */
export function requireActiveTerminal(
  terminals: Pick<TerminalStore, "get">,
  clock: Clock,
  holidays: HolidayCalendar,
  defaultSchedule?: OperatingSchedule,
) {
  return async function requireEnrolledTerminal(ctx: Context, next: Next): Promise<void> {
    const client = clientOf(ctx);
    if (client.role === "terminal") {
      const terminal = await terminals.get(client.id);
      assertTerminalMayOperate(terminal, { fingerprint: client.fingerprint256 }, clock.now(), holidays, defaultSchedule);
      stateOf(ctx).terminal = terminal;
    }
    await next();
  };
}
