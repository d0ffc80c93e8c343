import type { Context, Middleware } from "koa";
import { CaError } from "../../ca/errors.js";
import type { OperatorPrincipal } from "../../ca/operators/operator-principal.js";
import type { OperatorRole } from "../../ca/operators/roles.js";
import { requireClient } from "../client-identity.js";

/**
 * What every admin route file needs: CONTRACT §7 admin routes take the admin workstation's client
 * certificate (OU=admin) and an operator session holding one of the route's roles.
 */
export interface AdminRouteAuth {
  /** api/operator-session.ts `requireOperator`, bound to the OperatorAuth of the service. */
  readonly requireOperator: (...roles: OperatorRole[]) => Middleware;
}

/** The middleware pair of an admin route: admin client certificate, then an operator with one of `roles`. */
export function adminOnly(auth: AdminRouteAuth, ...roles: OperatorRole[]): Middleware[] {
  return [requireClient("admin"), auth.requireOperator(...roles)];
}

/** The operator of this request (set by requireOperator). */
export function operatorOf(ctx: Context): OperatorPrincipal {
  const op = ctx.state.operator as OperatorPrincipal | undefined;
  if (op === undefined) throw new CaError("internal", "operator session middleware missing");
  return op;
}

/** A path parameter as a bounded id, or 404 (an id that cannot exist is simply not found). */
export function idParam(ctx: Context, name: string): string {
  const v = String((ctx.params as Record<string, string | undefined>)[name] ?? "");
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(v)) throw new CaError("not-found", `no such ${name}`);
  return v;
}

/** One query parameter given at most once. */
export function queryParam(ctx: Context, name: string): string | undefined {
  const v = ctx.query[name];
  if (Array.isArray(v)) throw new CaError("invalid-input", `${name} may be given once`, { field: name });
  return v;
}

/** Answers carrying one-time secrets must not be cached anywhere (RFC 9111 §5.2.2.5). */
export function noStore(ctx: Context): void {
  ctx.set("Cache-Control", "no-store");
}
