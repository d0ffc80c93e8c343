import type { RouterContext, RouterMiddleware } from "@koa/router";
import type { Context } from "koa";
import { CaError } from "../ca/errors.js";
import type { TerminalRecord } from "../ca/operators/operator-ports.js";
import type { OperatorPrincipal } from "../ca/operators/operator-principal.js";
import type { ClientIdentity } from "./client-identity.js";

/**
 * What the middleware of the HTTP layer proves about a request and leaves in `ctx.state`, declared
 * once so that routers (`new Router<ApiState>()`) and handlers read it typed, without casts.
 * Each field is set by exactly one middleware, and only once it has checked what it stands for.
 */
export interface ApiState {
  /** The verified client certificate: `requireClient` (api/client-identity.ts), everything under /v1. */
  client?: ClientIdentity;
  /** The operator of a valid session: `requireOperator` / `requireOperatorSession` (api/operator-session.ts). */
  operator?: OperatorPrincipal;
  /** The enrolled terminal of a terminal certificate: `requireActiveTerminal` (api/operator-session.ts). */
  terminal?: TerminalRecord | undefined;
  /** Who reads revocation data: `requireRelyingParty` (api/routes/crl.ts), CRL and OCSP routes. */
  revocationReader?: RevocationReader;
}

/** Who read revocation data (docs/api.md §3: every answered request is recorded). */
export interface RevocationReader {
  /** The relying party's id; null in public mode without a credential. */
  readonly partyId: string | null;
  readonly via: "api-key" | "client-certificate" | "none";
}

/** The context of a route handler: router params and the typed state. */
export type ApiContext = RouterContext<ApiState>;
/** A middleware of a route: guards (client certificate, operator, terminal) and handlers. */
export type ApiMiddleware = RouterMiddleware<ApiState>;

/** The state of any Koa context, typed (middleware written against plain `Context` use this). */
export const stateOf = (ctx: Context | ApiContext): ApiState => ctx.state as ApiState;

/**
 * The verified client certificate of this request (set by requireClient). Without one the request
 * is unauthenticated (401), whichever middleware asks.
 */
export function clientOf(ctx: Context | ApiContext): ClientIdentity {
  const client = stateOf(ctx).client;
  if (client === undefined) throw new CaError("unauthenticated", "a client certificate issued by the service CA is required");
  return client;
}

/** The operator of this request (set by requireOperator); its absence is a wiring fault (500). */
export function operatorOf(ctx: Context | ApiContext): OperatorPrincipal {
  const op = stateOf(ctx).operator;
  if (op === undefined) throw new CaError("internal", "operator session middleware missing");
  return op;
}

/** Who reads revocation data (set by requireRelyingParty); its absence is a wiring fault (500). */
export function revocationReaderOf(ctx: Context | ApiContext): RevocationReader {
  const reader = stateOf(ctx).revocationReader;
  if (reader === undefined) throw new CaError("internal", "relying-party access middleware missing");
  return reader;
}
