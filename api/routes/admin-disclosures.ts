import Router from "@koa/router";
import { z } from "zod";
import { CaError } from "../../ca/errors.js";
import { disclosureCsv, type DisclosureService } from "../../ca/records/disclosure.js";
import { operatorOf, type ApiState } from "../api-state.js";
import type { OpenApiDocument } from "../openapi.js";
import { pathParam, route } from "../route-contract.js";
import { adminOnly, type AdminRouteAuth } from "./admin-common.js";

// The resident code is checked by the disclosure service (400 "malformed resident code").
const residentCode = pathParam(z.string(), () => new CaError("invalid-input", "malformed resident code", { field: "residentCode" }), "11 digits");
const reportQuery = z.object({ format: z.enum(["json", "csv"], { error: "format must be json or csv" }).optional().describe("json (default) or csv") });

// The disclosure service checks the resident code itself (400 "residentCode must be exactly 11 digits").
const reportBody = z.strictObject({
  residentCode: z.string({ error: "residentCode must be a string" }).max(64).describe("11 digits"),
  format: z.enum(["json", "csv"], { error: "format must be json or csv" }).optional().describe("json (default) or csv"),
});

export interface AdminDisclosureRouteDeps extends AdminRouteAuth {
  readonly disclosure: Pick<DisclosureService, "report">;
}

/**
 * docs/api.md §7 `GET /v1/admin/disclosures/{residentCode}` (auditor; 告示334号 第6-8(5)): what was
 * issued, revoked and provided about one resident, and to whom. JSON by default; CSV with
 * `?format=csv` or `Accept: text/csv`. `POST /v1/admin/disclosures` takes the resident code in a JSON
 * body instead, for the console (docs/console.md "Personal data and URLs").
 */
export function adminDisclosureRoutes(deps: AdminDisclosureRouteDeps) {
  return (openapi: OpenApiDocument): Router<ApiState> => {
    const router = new Router<ApiState>();
    route(
      router,
      openapi,
      {
        method: "get",
        path: "/admin/disclosures/:residentCode",
        summary: "Disclosure report for one resident: certificates issued and revoked, change events, relying-party accesses, consents and query answers (JSON or CSV); audited",
        roles: ["admin", "auditor"],
        guard: adminOnly(deps, "auditor"),
        params: { residentCode },
        query: reportQuery,
        responses: { "200": "the report", "400": "malformed resident code" },
      },
      async function disclosureReport(ctx, { params, query }) {
        const format = query.format ?? (ctx.accepts("application/json", "text/csv") === "text/csv" ? "csv" : "json");
        const report = await deps.disclosure.report(operatorOf(ctx), params.residentCode);
        if (format === "csv") {
          ctx.type = "text/csv; charset=utf-8";
          ctx.set("Content-Disposition", `attachment; filename="disclosure-${params.residentCode}.csv"`);
          ctx.body = disclosureCsv(report);
        } else {
          ctx.body = report;
        }
      },
    );
    route(
      router,
      openapi,
      {
        method: "post",
        path: "/admin/disclosures",
        summary: "Disclosure report for one resident with the resident code in the body (no personal data in the URL, docs/console.md): the same report, role and audit as the GET",
        roles: ["admin", "auditor"],
        guard: adminOnly(deps, "auditor"),
        body: reportBody,
        responses: { "200": "the report (JSON), or CSV with Content-Disposition disclosure-<date>.csv", "400": "malformed resident code or format" },
      },
      async function disclosureReportByBody(ctx, { body }) {
        const report = await deps.disclosure.report(operatorOf(ctx), body.residentCode);
        ctx.set("Cache-Control", "no-store");
        if (body.format === "csv") {
          ctx.type = "text/csv; charset=utf-8";
          // The file name carries the report's JST date only, never the resident code (docs/console.md).
          const jstDay = new Date(Date.parse(report.generatedAt) + 9 * 3_600_000).toISOString().slice(0, 10);
          ctx.set("Content-Disposition", `attachment; filename="disclosure-${jstDay}.csv"`);
          ctx.body = disclosureCsv(report);
        } else {
          ctx.body = report;
        }
      },
    );
    return router;
  };
}
