import Router from "@koa/router";
import type { ApprovalEngine } from "../../ca/approvals/approval-engine.js";
import { CaError } from "../../ca/errors.js";
import type { OpenApiDocument } from "../openapi.js";
import { adminOnly, operatorOf, type AdminRouteAuth } from "./admin-common.js";
import { approvalJson } from "./admin-approvals.js";

export interface AdminCaGenerationRouteDeps extends AdminRouteAuth {
  readonly approvals: Pick<ApprovalEngine, "request">;
}

/**
 * CONTRACT §7: `POST /v1/admin/ca/{kind}/generations` (CA administrator). A new CA generation is an
 * important operation (告示334号 第2-3(1)): the request answers 202 with a pending approval, and the
 * generation is made when a security officer approves it (executor `ca-generation`, api/ca-generations.ts).
 */
export function adminCaGenerationRoutes(deps: AdminCaGenerationRouteDeps) {
  return (openapi: OpenApiDocument): Router => {
    const router = new Router();
    router.post("/admin/ca/:kind/generations", ...adminOnly(deps, "ca-admin"), async (ctx) => {
      const kind = String(ctx.params.kind ?? "");
      if (kind !== "sign" && kind !== "auth") throw new CaError("invalid-input", "kind must be sign or auth", { field: "kind" });
      const record = await deps.approvals.request(operatorOf(ctx), "ca-generation", { kind });
      ctx.status = 202;
      ctx.set("Location", `/v1/admin/approvals/${record.id}`);
      ctx.body = approvalJson(record);
    });
    openapi.add("post", "/v1/admin/ca/{kind}/generations", {
      summary: "Ask for a new CA generation (key in the HSM, self-signed certificate, OCSP responder); made when a security officer approves",
      roles: ["admin", "ca-admin"],
      parameters: [{ name: "kind", in: "path", required: true, description: "sign or auth" }],
      responses: { "202": "the pending approval request", "400": "unknown kind" },
    });
    return router;
  };
}
