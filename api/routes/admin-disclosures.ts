import Router from "@koa/router";
import { CaError } from "../../ca/errors.js";
import { disclosureCsv, type DisclosureService } from "../../ca/records/disclosure.js";
import type { OpenApiDocument } from "../openapi.js";
import { adminOnly, operatorOf, queryParam, type AdminRouteAuth } from "./admin-common.js";

export interface AdminDisclosureRouteDeps extends AdminRouteAuth {
  readonly disclosure: Pick<DisclosureService, "report">;
}

/**
 * CONTRACT §7 `GET /v1/admin/disclosures/{residentCode}` (auditor; 告示334号 第6-8(5)): what was
 * issued, revoked and provided about one resident, and to whom. JSON by default; CSV with
 * `?format=csv` or `Accept: text/csv`.
 */
export function adminDisclosureRoutes(deps: AdminDisclosureRouteDeps) {
  return (openapi: OpenApiDocument): Router => {
    const router = new Router();
    router.get("/admin/disclosures/:residentCode", ...adminOnly(deps, "auditor"), async (ctx) => {
      const residentCode = String(ctx.params.residentCode ?? "");
      const format = queryParam(ctx, "format") ?? (ctx.accepts("application/json", "text/csv") === "text/csv" ? "csv" : "json");
      if (format !== "json" && format !== "csv") throw new CaError("invalid-input", "format must be json or csv", { field: "format" });
      const report = await deps.disclosure.report(operatorOf(ctx), residentCode);
      ctx.set("Cache-Control", "no-store");
      if (format === "csv") {
        ctx.type = "text/csv; charset=utf-8";
        ctx.set("Content-Disposition", `attachment; filename="disclosure-${residentCode}.csv"`);
        ctx.body = disclosureCsv(report);
      } else {
        ctx.body = report;
      }
    });
    openapi.add("get", "/v1/admin/disclosures/{residentCode}", {
      summary: "Disclosure report for one resident: certificates issued and revoked, change events, relying-party accesses (JSON or CSV); audited",
      roles: ["admin", "auditor"],
      parameters: [
        { name: "residentCode", in: "path", required: true, description: "11 digits" },
        { name: "format", in: "query", description: "json (default) or csv" },
      ],
      responses: { "200": "the report", "400": "malformed resident code" },
    });
    return router;
  };
}
