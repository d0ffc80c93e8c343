import { ClientRegister } from "../ca/operators/client-register.js";
import { LoginThrottle } from "../ca/operators/login-throttle.js";
import { OperatorAuth } from "../ca/operators/operator-auth.js";
import { BoundedPasswordHasher, ScryptPasswordHasher } from "../ca/operators/password-hash.js";
import { KnexLoginAttemptStore } from "../db/login-attempt-store.js";
import { loginMetrics } from "./login-metrics.js";
import type { Service } from "./main.js";

/**
 * Operator authentication and the register of admin-workstation and feed certificates, wired from the
 * opened Service (docs/security.md "Authentication"): login attempts limited per client certificate and
 * per source, shared through the database; password hashes bounded per process (ca/operators/password-hash.ts
 * explains the sizing).
 */
export function buildOperatorAuth(service: Pick<Service, "db" | "stores" | "clock" | "random" | "metrics" | "serviceCa">): { auth: OperatorAuth; clientRegister: ClientRegister } {
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
  return { auth, clientRegister };
}
