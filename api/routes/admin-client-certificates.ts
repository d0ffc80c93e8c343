import Router from "@koa/router";
import { z } from "zod";
import type { ClientCertificateRecord, ClientRegister, RegisteredClientKind } from "../../ca/operators/client-register.js";
import { CaError } from "../../ca/errors.js";
import { clientOf, operatorOf, type ApiState } from "../api-state.js";
import type { OpenApiDocument } from "../openapi.js";
import { route } from "../route-contract.js";
import { adminOnly, answerEnrolled, idPathParam, type AdminRouteAuth } from "./admin-common.js";

export interface AdminClientCertificateRouteDeps extends AdminRouteAuth {
  readonly register: Pick<ClientRegister, "enrol" | "revoke" | "list">;
  /** DER of the service CA certificate (the trust anchor the new client needs). */
  readonly serviceCaCertificate: () => Uint8Array;
}

const enrolBody = z
  .object({
    id: z.string().min(1).max(64),
    description: z.string().min(1).max(200).optional(),
    validityDays: z.number().int().min(1).max(825).optional(),
  })
  .strict();

const ROLES = ["admin", "security-officer"];

const json = (r: ClientCertificateRecord) => ({
  kind: r.kind,
  id: r.clientId,
  status: r.status,
  description: r.description,
  clientCertSerial: r.clientCertSerial,
  clientCertFingerprint: r.clientCertFingerprint,
  enrolledAt: r.enrolledAt.toISOString(),
  revokedAt: r.revokedAt?.toISOString() ?? null,
});

/**
 * Issue 12 item 2: admin workstations (`/v1/admin/workstations`) and resident feeds (`/v1/admin/feeds`)
 * are registered, listed and revoked like terminals (security officer: see ca/operators/client-register.ts why).
 * Enrolment answers the certificate and its private key once (Cache-Control: no-store).
 */
export function adminClientCertificateRoutes(deps: AdminClientCertificateRouteDeps) {
  return (openapi: OpenApiDocument): Router<ApiState> => {
    const router = new Router<ApiState>();
    const officer = { roles: ROLES, guard: adminOnly(deps, "security-officer") };
    for (const [path, kind, what] of [
      ["workstations", "admin", "admin workstation"],
      ["feeds", "feed", "resident feed"],
      ["holder-portals", "holder-portal", "holder portal"],
    ] as const satisfies ReadonlyArray<readonly [string, RegisteredClientKind, string]>) {
      route(router, openapi, { method: "get", path: `/admin/${path}`, summary: `Registered and revoked ${what} client certificates`, ...officer, responses: { "200": `{${path}: [...]}` } }, async function listClients(ctx) {
        ctx.body = { [path]: (await deps.register.list(kind)).map(json) };
      });

      route(
        router,
        openapi,
        {
          method: "post",
          path: `/admin/${path}`,
          summary: `Register a ${what}: answers its client certificate (OU=${kind}) and private key (PKCS#8), once`,
          ...officer,
          body: enrolBody,
          responses: { "201": "{workstation|feed, certificate, privateKey, caCertificate} (PEM); Cache-Control: no-store", "400": "malformed field", "409": "id registered and active" },
        },
        async function enrolClient(ctx, { body }) {
          const enrolled = await deps.register.enrol(operatorOf(ctx), {
            kind,
            clientId: body.id,
            ...(body.description === undefined ? {} : { description: body.description }),
            ...(body.validityDays === undefined ? {} : { validityDays: body.validityDays }),
          });
          answerEnrolled(ctx, `/v1/admin/${path}/${enrolled.record.clientId}`, { [kind === "admin" ? "workstation" : kind === "feed" ? "feed" : "holderPortal"]: json(enrolled.record) }, enrolled, deps.serviceCaCertificate());
        },
      );

      route(
        router,
        openapi,
        {
          method: "delete",
          path: `/admin/${path}/:id`,
          summary: `Revoke a ${what}: its certificate is refused from the next request on, and its sessions end`,
          ...officer,
          params: { id: idPathParam },
          responses: { "204": "revoked", "404": "no active registration with this id", "409": "the workstation of this request" },
        },
        async function revokeClient(ctx, { params }) {
          const client = clientOf(ctx);
          // Revoking the workstation one works on would cut the officer off mid-way: do it from another one.
          if (kind === "admin" && client.role === "admin" && client.id === params.id) throw new CaError("conflict", "this is the workstation of this request: revoke it from another one");
          await deps.register.revoke(operatorOf(ctx), kind, params.id);
          ctx.status = 204;
        },
      );
    }
    return router;
  };
}
