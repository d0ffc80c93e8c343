import type { Context, Next } from "koa";
import { isCaError } from "../ca/errors.js";
import type { Clock } from "../ca/ports.js";
import type { AuditStore } from "../ca/stores.js";
import { stateOf } from "./api-state.js";

/**
 * Denied requests into the audit log (告示334号 第4-9: early detection of unauthorized access; issue
 * "every security event … denied requests"): a 401, 403 or 423 on a /v1 route appends
 * "request.denied" with who (operator, else the client certificate's role:id, else "anonymous"), the
 * route pattern and the reason — CaError messages, which never carry personal data. The anomaly
 * monitor reads these (e.g. terminals used outside operating hours).
 *
 * Mount right after the error middleware (it rethrows, so the problem answer is unchanged). Failed
 * logins are skipped: OperatorAuth audits them itself, with the lockout count.
 */
export function auditDeniedRequests(audit: Pick<AuditStore, "append">, clock: Clock) {
  return async function recordDenial(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (err) {
      if (isCaError(err) && (err.kind === "unauthenticated" || err.kind === "forbidden" || err.kind === "locked") && ctx.path.startsWith("/v1/") && !(ctx.method === "POST" && ctx.path === "/v1/sessions")) {
        const { operator, client } = stateOf(ctx);
        const route = (ctx._matchedRoute as string | undefined) ?? "unmatched";
        await audit
          .append({
            at: clock.now(),
            action: "request.denied",
            actor: operator ? `operator:${operator.operatorId}` : client ? `${client.role}:${client.id}` : "anonymous",
            subject: `route:${ctx.method} ${route}`,
            outcome: "denied",
            detail: { kind: err.kind, reason: err.message, client: client ? { role: client.role, id: client.id } : null },
          })
          // The answer to the client must not depend on the audit write; a failure here shows in the
          // database's own monitoring. Never swallow silently: rethrow the original error below.
          .catch(() => undefined);
      }
      throw err;
    }
  };
}
