import Router from "@koa/router";
import { z } from "zod";
import { CaError } from "../../ca/errors.js";
import { MAX_INQUIRY_RESULTS, parseInquiry, type CertificateInquiry, type InquiryRequest } from "../../ca/records/inquiry.js";
import { operatorOf, type ApiState } from "../api-state.js";
import type { OpenApiDocument } from "../openapi.js";
import { route } from "../route-contract.js";
import { adminOnly, type AdminRouteAuth } from "./admin-common.js";

/** The inquiry's parameters as documented; ca/records/inquiry.ts parseInquiry checks them, so a refusal is audited. */
const inquiryQuery = z.object({
  serial: z.string().optional().describe("the whole serial number, hex"),
  residentCode: z.string().optional().describe("11 digits"),
  name: z.string().optional().describe("exact recorded name (with dateOfBirth)"),
  dateOfBirth: z.string().optional().describe("YYYY-MM-DD (with name)"),
  purpose: z.string().describe("why the inquiry is made (recorded)"),
});

export interface AdminCertificateRouteDeps extends AdminRouteAuth {
  readonly inquiry: Pick<CertificateInquiry, "search" | "refused">;
}

/**
 * docs/api.md §7 limited inquiries (CA operator, auditor; 告示334号 第4-4(7)):
 * `GET /v1/admin/certificates?serial=` | `?residentCode=` | `?name=&dateOfBirth=`, each with `purpose=`.
 * Anything else (no condition, wildcards, extra parameters, more than 20 matches) is refused, and the
 * refusal is audited like the inquiry itself.
 */
export function adminCertificateRoutes(deps: AdminCertificateRouteDeps) {
  return (openapi: OpenApiDocument): Router<ApiState> => {
    const router = new Router<ApiState>();
    route(
      router,
      openapi,
      {
        method: "get",
        path: "/admin/certificates",
        summary: `Limited inquiry: by serial, by residentCode, or by exact name + dateOfBirth, with a mandatory purpose; at most ${MAX_INQUIRY_RESULTS} results; audited`,
        roles: ["admin", "ca-operator", "auditor"],
        guard: adminOnly(deps, "ca-operator", "auditor"),
        query: inquiryQuery,
        queryParsedBy: "handler",
        responses: { "200": "{certificates: [...]} (status and dates, no personal fields)", "400": "missing purpose, no or mixed conditions, wildcard, listing parameters", "422": `more than ${MAX_INQUIRY_RESULTS} matches: narrow the conditions` },
      },
      async function inquireCertificates(ctx) {
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
      },
    );

    // Issue 17: the same inquiry with its conditions in a JSON body, so that a resident code, a name or a
    // date of birth never travels in a URL (the operator console uses this one). Parsed, refused and
    // audited exactly as the GET above.
    route(
      router,
      openapi,
      {
        method: "post",
        path: "/admin/certificates/inquiries",
        summary: `Limited inquiry with the conditions in the body (no personal data in the URL): {serial} | {residentCode} | {name, dateOfBirth}, each with purpose; at most ${MAX_INQUIRY_RESULTS} results; audited`,
        roles: ["admin", "ca-operator", "auditor"],
        guard: adminOnly(deps, "ca-operator", "auditor"),
        body: z.record(z.string(), z.unknown()),
        bodyDoc: inquiryQuery,
        responses: { "200": "{certificates: [...]} (status and dates, no personal fields)", "400": "missing purpose, no or mixed conditions, wildcard, unknown fields", "422": `more than ${MAX_INQUIRY_RESULTS} matches: narrow the conditions` },
      },
      async function inquireCertificatesByBody(ctx, { body }) {
        const operator = operatorOf(ctx);
        let request: InquiryRequest;
        try {
          const notText = Object.keys(body).find((k) => typeof body[k] !== "string");
          if (notText !== undefined) throw new CaError("invalid-input", `${/^[A-Za-z]{1,40}$/.test(notText) ? notText : "a field"} must be a string`, { field: "body" });
          request = parseInquiry(body as Record<string, string>);
        } catch (e) {
          if (e instanceof CaError) return deps.inquiry.refused(operator, Object.keys(body), e);
          throw e;
        }
        ctx.body = { certificates: await deps.inquiry.search(operator, request) };
      },
    );
    return router;
  };
}
