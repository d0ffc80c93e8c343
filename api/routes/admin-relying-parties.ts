import Router from "@koa/router";
import { z } from "zod";
import type { RelyingPartyEnrolment } from "../../ca/relying-parties/relying-party-enrolment.js";
import { pem } from "../../ca/x509/pem.js";
import { readJson } from "../json-body.js";
import type { OpenApiDocument } from "../openapi.js";
import { adminOnly, idParam, noStore, operatorOf, type AdminRouteAuth } from "./admin-common.js";

export interface AdminRelyingPartyRouteDeps extends AdminRouteAuth {
  readonly enrolment: Pick<RelyingPartyEnrolment, "register" | "deactivate">;
  readonly serviceCaCertificate: () => Uint8Array;
}

const registerBody = z
  .object({
    id: z.string().min(1).max(64),
    name: z.string().min(1).max(200),
    credentials: z.array(z.enum(["api-key", "certificate"])).min(1).max(2).optional(),
  })
  .strict();

const ROLES = ["admin", "ca-operator"];

/** CONTRACT §7 relying parties (CA operator): register (API key and/or client certificate, shown once), deactivate. */
export function adminRelyingPartyRoutes(deps: AdminRelyingPartyRouteDeps) {
  return (openapi: OpenApiDocument): Router => {
    const router = new Router();
    const caOperator = adminOnly(deps, "ca-operator");

    router.post("/admin/relying-parties", ...caOperator, async (ctx) => {
      const body = await readJson(ctx, registerBody);
      const wanted = body.credentials ?? ["api-key"];
      const r = await deps.enrolment.register(operatorOf(ctx), { id: body.id, name: body.name, apiKey: wanted.includes("api-key"), certificate: wanted.includes("certificate") });
      noStore(ctx);
      ctx.status = 201;
      ctx.body = {
        relyingParty: r.party,
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
    });
    openapi.add("post", "/v1/admin/relying-parties", {
      summary: "Register a relying party: answers its API key and/or client certificate + key, once (the key is stored hashed)",
      roles: ROLES,
      requestBody: { type: "object", required: ["id", "name"], additionalProperties: false, properties: { id: { type: "string" }, name: { type: "string" }, credentials: { type: "array", items: { type: "string", enum: ["api-key", "certificate"] } } } },
      responses: { "201": "{relyingParty, apiKey?, certificate?, privateKey?}; Cache-Control: no-store", "400": "malformed field", "409": "id exists" },
    });

    router.delete("/admin/relying-parties/:id", ...caOperator, async (ctx) => {
      await deps.enrolment.deactivate(operatorOf(ctx), idParam(ctx, "id"));
      ctx.status = 204;
    });
    openapi.add("delete", "/v1/admin/relying-parties/{id}", {
      summary: "Deactivate a relying party: its API key and certificate stop working",
      roles: ROLES,
      parameters: [{ name: "id", in: "path", required: true }],
      responses: { "204": "deactivated", "404": "unknown relying party" },
    });
    return router;
  };
}
