import Router from "@koa/router";
import { z } from "zod";
import type { RelyingPartyRecord } from "../../ca/relying-parties/relying-party.js";
import type { RelyingPartyEnrolment } from "../../ca/relying-parties/relying-party-enrolment.js";
import { parseVerifierTypes, relyingPartyEnvironments, verifierTypes } from "../../ca/relying-parties/verifier-types.js";
import { pem } from "../../ca/x509/pem.js";
import { operatorOf, type ApiState } from "../api-state.js";
import type { OpenApiDocument } from "../openapi.js";
import { route } from "../route-contract.js";
import { adminOnly, idPathParam, type AdminRouteAuth } from "./admin-common.js";

export interface AdminRelyingPartyRouteDeps extends AdminRouteAuth {
  readonly enrolment: Pick<RelyingPartyEnrolment, "register" | "deactivate" | "changeVerifier">;
  readonly serviceCaCertificate: () => Uint8Array;
  /** Every registered party (db/relying-party-store.ts). */
  readonly parties: { list(): Promise<readonly RelyingPartyRecord[]> };
}

/** A party as the list shows it: whether it has an API key, never the key's hash. */
const partyJson = (p: RelyingPartyRecord) => ({
  id: p.id,
  name: p.name,
  active: p.active,
  apiKey: p.apiKeySha256 !== null,
  verifierTypes: p.verifierTypes ?? ["signing", "user-auth"],
  environment: p.environment ?? "production",
  platformId: p.platformId ?? null,
  createdAt: p.createdAt.toISOString(),
});

const registerBody = z
  .object({
    id: z.string().min(1).max(64),
    name: z.string().min(1).max(200),
    credentials: z.array(z.enum(["api-key", "certificate"])).min(1).max(2).optional(),
    verifierTypes: z.array(z.enum(verifierTypes)).min(1).max(3).optional().describe("default [signing, user-auth] (docs/relying-parties.md)"),
    environment: z.enum(relyingPartyEnvironments).optional().describe("default production"),
    platformId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/).optional().describe("a service provider's platform operator (施行規則29条)"),
  })
  .strict();

const verifierBody = z.strictObject({
  verifierTypes: z.array(z.enum(verifierTypes)).min(1).max(3),
  environment: z.enum(relyingPartyEnvironments),
});

const ROLES = ["admin", "ca-operator"];

/** docs/api.md §7 relying parties (CA operator): list, register (API key and/or client certificate, shown once), change verifier types, deactivate. */
export function adminRelyingPartyRoutes(deps: AdminRelyingPartyRouteDeps) {
  return (openapi: OpenApiDocument): Router<ApiState> => {
    const router = new Router<ApiState>();
    const caOperator = { roles: ROLES, guard: adminOnly(deps, "ca-operator") };

    route(
      router,
      openapi,
      { method: "get", path: "/admin/relying-parties", summary: "Registered relying parties, active or not, with their verifier types and environment (no secret, no key hash)", ...caOperator, responses: { "200": "{relyingParties: [{id, name, active, apiKey: boolean, verifierTypes, environment, platformId, createdAt}]}" } },
      async function listRelyingParties(ctx) {
        ctx.body = { relyingParties: (await deps.parties.list()).map(partyJson) };
      },
    );

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/admin/relying-parties",
        summary: "Register a relying party with its verifier types and environment: answers its API key and/or client certificate + key, once (the key is stored hashed)",
        ...caOperator,
        body: registerBody,
        responses: { "201": "{relyingParty, verifier, apiKey?, certificate?, privateKey?}; Cache-Control: no-store", "400": "malformed field", "409": "id exists", "422": "platformId is not an active platform operator of the same environment" },
      },
      async function registerRelyingParty(ctx, { body }) {
        const wanted = body.credentials ?? ["api-key"];
        const verifier = {
          verifierTypes: parseVerifierTypes(body.verifierTypes ?? ["signing", "user-auth"]),
          environment: body.environment ?? "production",
          platformId: body.platformId ?? null,
        };
        const r = await deps.enrolment.register(operatorOf(ctx), { id: body.id, name: body.name, apiKey: wanted.includes("api-key"), certificate: wanted.includes("certificate"), ...verifier });
        ctx.status = 201;
        ctx.body = {
          relyingParty: r.party,
          verifier,
          ...(r.apiKey ? { apiKey: r.apiKey } : {}),
          ...(r.certificate
            ? {
                certificate: pem(r.certificate, "CERTIFICATE"),
                privateKey: pem(r.privateKeyPkcs8!, "PRIVATE KEY"),
                certificateSerial: r.certificateSerial,
                caCertificate: pem(deps.serviceCaCertificate(), "CERTIFICATE"),
              }
            : {}),
        };
      },
    );

    route(
      router,
      openapi,
      {
        method: "put",
        path: "/admin/relying-parties/:id/verifier",
        summary: "Change a relying party's verifier types and environment (docs/relying-parties.md \"Registration\"); audited",
        ...caOperator,
        params: { id: idPathParam },
        body: verifierBody,
        responses: { "200": "{verifier: {verifierTypes, environment, platformId}}", "400": "malformed field", "404": "unknown relying party", "422": "a platform operator with service providers stays of type platform; a service provider stays in its platform's environment" },
      },
      async function changeVerifier(ctx, { params, body }) {
        const p = await deps.enrolment.changeVerifier(operatorOf(ctx), params.id, { verifierTypes: parseVerifierTypes(body.verifierTypes), environment: body.environment });
        ctx.body = { verifier: { verifierTypes: p.types, environment: p.environment, platformId: p.platformId } };
      },
    );

    route(
      router,
      openapi,
      {
        method: "delete",
        path: "/admin/relying-parties/:id",
        summary: "Deactivate a relying party: its API key and certificate stop working",
        ...caOperator,
        params: { id: idPathParam },
        responses: { "204": "deactivated", "404": "unknown relying party" },
      },
      async function deactivateRelyingParty(ctx, { params }) {
        await deps.enrolment.deactivate(operatorOf(ctx), params.id);
        ctx.status = 204;
      },
    );
    return router;
  };
}
