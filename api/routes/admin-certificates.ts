import Router from "@koa/router";
import { CaError } from "../../ca/errors.js";
import { MAX_INQUIRY_RESULTS, parseInquiry, type CertificateInquiry, type InquiryRequest } from "../../ca/records/inquiry.js";
import type { OpenApiDocument } from "../openapi.js";
import { adminOnly, operatorOf, type AdminRouteAuth } from "./admin-common.js";

export interface AdminCertificateRouteDeps extends AdminRouteAuth {
  readonly inquiry: Pick<CertificateInquiry, "search" | "refused">;
}

/**
 * CONTRACT §7 limited inquiries (CA operator, auditor; 告示334号 第4-4(7)):
 * `GET /v1/admin/certificates?serial=` | `?residentCode=` | `?name=&dateOfBirth=`, each with `purpose=`.
 * Anything else (no condition, wildcards, extra parameters, more than 20 matches) is refused, and the
 * refusal is audited like the inquiry itself.
 */
export function adminCertificateRoutes(deps: AdminCertificateRouteDeps) {
  return (openapi: OpenApiDocument): Router => {
    const router = new Router();
    router.get("/admin/certificates", ...adminOnly(deps, "ca-operator", "auditor"), async (ctx) => {
      const operator = operatorOf(ctx);
      let request: InquiryRequest;
      try {
        request = parseInquiry(ctx.query);
      } catch (e) {
        if (e instanceof CaError) return deps.inquiry.refused(operator, Object.keys(ctx.query), e);
        throw e;
      }
      ctx.set("Cache-Control", "no-store");
      ctx.body = { certificates: await deps.inquiry.search(operator, request) };
    });
    openapi.add("get", "/v1/admin/certificates", {
      summary: `Limited inquiry: by serial, by residentCode, or by exact name + dateOfBirth, with a mandatory purpose; at most ${MAX_INQUIRY_RESULTS} results; audited`,
      roles: ["admin", "ca-operator", "auditor"],
      parameters: [
        { name: "serial", in: "query", description: "the whole serial number, hex" },
        { name: "residentCode", in: "query", description: "11 digits" },
        { name: "name", in: "query", description: "exact recorded name (with dateOfBirth)" },
        { name: "dateOfBirth", in: "query", description: "YYYY-MM-DD (with name)" },
        { name: "purpose", in: "query", required: true, description: "why the inquiry is made (recorded)" },
      ],
      responses: { "200": "{certificates: [...]} (status and dates, no personal fields)", "400": "missing purpose, no or mixed conditions, wildcard, listing parameters", "422": `more than ${MAX_INQUIRY_RESULTS} matches: narrow the conditions` },
    });
    return router;
  };
}
