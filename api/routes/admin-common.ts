import type { Context } from "koa";
import { z } from "zod";
import { CaError } from "../../ca/errors.js";
import type { OperatorRole } from "../../ca/operators/roles.js";
import { pem } from "../../ca/x509/pem.js";
import type { ApiMiddleware } from "../api-state.js";
import { requireClient } from "../client-identity.js";
import { pathParam } from "../route-contract.js";

/**
 * What every admin route file needs: docs/api.md §7 admin routes take the admin workstation's client
 * certificate (OU=admin) and an operator session holding one of the route's roles.
 */
export interface AdminRouteAuth {
  /** api/operator-session.ts `requireOperator`, bound to the OperatorAuth of the service. */
  readonly requireOperator: (...roles: OperatorRole[]) => ApiMiddleware;
}

/** The middleware pair of an admin route: admin client certificate, then an operator with one of `roles`. */
export function adminOnly(auth: AdminRouteAuth, ...roles: OperatorRole[]): ApiMiddleware[] {
  return [requireClient("admin"), auth.requireOperator(...roles)];
}

/** A bounded id; one that cannot exist is simply not found (404). */
const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/** The `{id}` path parameter of a route contract (api/route-contract.ts): a bounded id, or 404. */
export const idPathParam = pathParam(z.string().regex(ID), (name) => new CaError("not-found", `no such ${name}`));

/** A client certificate just issued by the service CA, with its private key (ca/operators/terminal-registry.ts, client-register.ts). */
export interface EnrolledCredentials {
  readonly certificate: Uint8Array;
  readonly privateKeyPkcs8: Uint8Array;
}

/**
 * 201 for an enrolment (terminal, admin workstation, feed): `record` (e.g. `{ terminal: … }`), then the
 * client certificate, its private key (PKCS#8) and the service CA certificate the client must trust, as PEM.
 * The private key exists only in this answer; like every /v1 answer it carries `Cache-Control: no-store` (api/app.ts).
 */
export function answerEnrolled(ctx: Context, location: string, record: Record<string, unknown>, enrolled: EnrolledCredentials, serviceCaCertificate: Uint8Array): void {
  ctx.status = 201;
  ctx.set("Location", location);
  ctx.body = {
    ...record,
    certificate: pem(enrolled.certificate, "CERTIFICATE"),
    privateKey: pem(enrolled.privateKeyPkcs8, "PRIVATE KEY"),
    caCertificate: pem(serviceCaCertificate, "CERTIFICATE"),
  };
}
