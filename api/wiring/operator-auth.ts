import type Router from "@koa/router";
import type { Middleware } from "koa";
import { ClientRegister } from "../../ca/operators/client-register.js";
import { LoginThrottle } from "../../ca/operators/login-throttle.js";
import type { HolidayCalendar } from "../../ca/operators/operating-hours.js";
import { OperatorAuth } from "../../ca/operators/operator-auth.js";
import { BoundedPasswordHasher, ScryptPasswordHasher } from "../../ca/operators/password-hash.js";
import type { OperatorRole } from "../../ca/operators/roles.js";
import { KnexLoginAttemptStore } from "../../db/login-attempt-store.js";
import { clientRegisterGuardRouter } from "../client-register-guard.js";
import { loginMetrics } from "../login-metrics.js";
import type { OpenApiDocument } from "../openapi.js";
import { requireActiveTerminal, requireOperator } from "../operator-session.js";
import { adminClientCertificateRoutes } from "../routes/admin-client-certificates.js";
import { sessionRoutes } from "../routes/sessions.js";
import type { ServiceWith } from "./service.js";

/**
 * Operator authentication and the register of admin-workstation and feed certificates, wired from the
 * opened service (docs/security.md "Authentication"): login attempts limited per client certificate and
 * per source, shared through the database; password hashes bounded per process (ca/operators/password-hash.ts
 * explains the sizing). Also the guards every other feature's routes use (an operator with a role, an
 * active terminal inside its hours) and the routes of this feature: the client-certificate register
 * guard, sessions, and the admin routes of the register.
 */

/** What operator authentication needs of the opened service. */
export type OperatorAuthDeps = ServiceWith<"db" | "clock" | "random" | "metrics" | "serviceCa", "operators" | "operatorSessions" | "audit" | "clientCertificates" | "terminals">;

/** The route guards of api/operator-session.ts, bound to this service's auth and terminals. */
export interface OperatorGuards {
  readonly requireOperator: (...roles: OperatorRole[]) => Middleware;
  readonly requireActiveTerminal: Middleware;
}

export interface OperatorAuthFeature {
  readonly auth: OperatorAuth;
  readonly clientRegister: ClientRegister;
  readonly guards: OperatorGuards;
  /** Mounted first: every /v1 request of an admin, feed or terminal certificate must match its register. */
  readonly guardRouter: (openapi: OpenApiDocument) => Router;
  /** Sessions (log in, log off, own password) and the admin routes of the client-certificate register. */
  readonly v1Routers: ReadonlyArray<(openapi: OpenApiDocument) => Router>;
}

export function buildOperatorAuth(service: OperatorAuthDeps, options: { readonly holidays: HolidayCalendar }): OperatorAuthFeature {
  const { stores, db, clock, random } = service;
  const observe = loginMetrics(service.metrics);
  const auth = new OperatorAuth({
    operators: stores.operators,
    sessions: stores.operatorSessions,
    audit: stores.audit,
    transactions: db,
    clock,
    random,
    passwords: new BoundedPasswordHasher(new ScryptPasswordHasher(random), {}, observe.hashQueue),
    throttle: new LoginThrottle(new KnexLoginAttemptStore(db), clock, {}, observe.refused),
  });
  const clientRegister = new ClientRegister({ store: stores.clientCertificates, sessions: stores.operatorSessions, audit: stores.audit, transactions: db, clock, random, serviceCa: () => service.serviceCa });
  const guards: OperatorGuards = {
    requireOperator: (...roles) => requireOperator(auth, ...roles),
    requireActiveTerminal: requireActiveTerminal(stores.terminals, clock, options.holidays),
  };
  const audit = { store: stores.audit, clock };
  return {
    auth,
    clientRegister,
    guards,
    guardRouter: clientRegisterGuardRouter({ clients: stores.clientCertificates, terminals: stores.terminals, audit }),
    v1Routers: [
      sessionRoutes({ auth, terminals: stores.terminals, clients: stores.clientCertificates, clock, holidays: options.holidays, audit }),
      adminClientCertificateRoutes({ register: clientRegister, requireOperator: guards.requireOperator, serviceCaCertificate: () => service.serviceCa.certificate }),
    ],
  };
}
