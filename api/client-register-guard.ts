import Router from "@koa/router";
import type { Context, Next } from "koa";
import { assertClientRegistered, type ClientCertificateStore } from "../ca/operators/client-register.js";
import { normalizeFingerprint } from "../ca/operators/certificate-fingerprint.js";
import { CaError } from "../ca/errors.js";
import type { TerminalStore } from "../ca/operators/operator-ports.js";
import type { Clock } from "../ca/ports.js";
import type { AuditStore } from "../ca/stores.js";
import { stateOf } from "./api-state.js";
import type { OpenApiDocument } from "./openapi.js";

/**
 * Every request under /v1 from an admin workstation, a resident feed or a counter terminal must come
 * with a certificate its register holds, active, with this very fingerprint (issue 12 item 2): the
 * service CA publishes no CRL, so a revoked, replaced or never-registered certificate still passes TLS
 * and is refused here (403). Terminals are checked against their enrolment (operating hours stay with
 * api/operator-session.ts `requireActiveTerminal`). Relying parties have their own register on their
 * own routes. One indexed read per request: revocation takes effect on the next request, on every node.
 */
export interface ClientRegisterGuardDeps {
  readonly clients: Pick<ClientCertificateStore, "get">;
  readonly terminals: Pick<TerminalStore, "get">;
  /** Audits a refused login (createApp's denial audit skips POST /v1/sessions: OperatorAuth audits logins). */
  readonly audit?: { readonly store: Pick<AuditStore, "append">; readonly clock: Clock };
}

/**
 * Writes a login refused before any password check (unregistered or revoked certificate, terminal outside
 * its hours) as a denied "operator.login", with the client as actor: the anomaly monitor counts it.
 */
export async function auditLoginRefusal(audit: NonNullable<ClientRegisterGuardDeps["audit"]>, ctx: Context, err: CaError): Promise<void> {
  const client = stateOf(ctx).client;
  await audit.store.append({
    at: audit.clock.now(),
    action: "operator.login",
    actor: client ? `${client.role}:${client.id}` : "anonymous",
    subject: null,
    outcome: "denied",
    detail: { reason: err.message, ...(client ? { terminal: client.id, client: { role: client.role, id: client.id } } : {}) },
  });
}

export function requireRegisteredClient(deps: ClientRegisterGuardDeps) {
  return async function registeredClient(ctx: Context, next: Next): Promise<void> {
    try {
      await check(ctx);
    } catch (err) {
      if (deps.audit && err instanceof CaError && ctx.method === "POST" && ctx.path === "/v1/sessions") await auditLoginRefusal(deps.audit, ctx, err);
      throw err;
    }
    await next();
  };

  async function check(ctx: Context): Promise<void> {
    const client = stateOf(ctx).client;
    if (client === undefined) throw new CaError("unauthenticated", "a client certificate issued by the service CA is required");
    if (client.role === "admin" || client.role === "feed") {
      assertClientRegistered(await deps.clients.get(client.role, client.id), { fingerprint: client.fingerprint256 });
    } else if (client.role === "terminal") {
      const t = await deps.terminals.get(client.id);
      if (t === undefined || t.status !== "active" || t.clientCertFingerprint !== normalizeFingerprint(client.fingerprint256)) {
        throw new CaError("forbidden", "client certificate is not registered, or has been revoked");
      }
    }
  }
}

/**
 * The guard as a /v1 router for `createApp`'s `v1Routers`: its middleware joins the /v1 router, so it
 * runs (after the client-certificate check) for every /v1 route. Put it first in the list.
 */
export function clientRegisterGuardRouter(deps: ClientRegisterGuardDeps): (openapi: OpenApiDocument) => Router {
  return () => {
    const router = new Router();
    router.use(requireRegisteredClient(deps));
    return router;
  };
}
