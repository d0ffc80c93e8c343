import Router from "@koa/router";
import { z } from "zod";
import type { ApprovalEngine } from "../../ca/approvals/approval-engine.js";
import { CaError } from "../../ca/errors.js";
import { operatorOf, type ApiState } from "../api-state.js";
import type { OpenApiDocument } from "../openapi.js";
import { pathParam, route } from "../route-contract.js";
import { adminOnly, type AdminRouteAuth } from "./admin-common.js";
import { answerPending, approvalJson } from "./admin-approvals.js";

const caKind = pathParam(z.enum(["sign", "auth"]), () => new CaError("invalid-input", "kind must be sign or auth", { field: "kind" }), "sign or auth");

export interface AdminCaGenerationRouteDeps extends AdminRouteAuth {
  readonly approvals: Pick<ApprovalEngine, "request">;
}

/**
 * docs/api.md §7: `POST /v1/admin/ca/{kind}/generations` (CA administrator). A new CA generation is an
 * important operation (告示334号 第2-3(1)): the request answers 202 with a pending approval, and the
 * generation is made when a security officer approves it (executor `ca-generation`, api/ca-generations.ts).
 */
export function adminCaGenerationRoutes(deps: AdminCaGenerationRouteDeps) {
  return (openapi: OpenApiDocument): Router<ApiState> => {
    const router = new Router<ApiState>();
    route(
      router,
      openapi,
      {
        method: "post",
        path: "/admin/ca/:kind/generations",
        summary: "Ask for a new CA generation (key in the HSM, self-signed certificate, OCSP responder); made when a security officer approves",
        roles: ["admin", "ca-admin"],
        guard: adminOnly(deps, "ca-admin"),
        params: { kind: caKind },
        responses: { "202": "the pending approval request", "400": "unknown kind" },
      },
      async function requestCaGeneration(ctx, { params }) {
        const record = await deps.approvals.request(operatorOf(ctx), "ca-generation", { kind: params.kind });
        answerPending(ctx, `/v1/admin/approvals/${record.id}`, approvalJson(record));
      },
    );
    return router;
  };
}
