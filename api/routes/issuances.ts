import Router from "@koa/router";
import { z } from "zod";
import type { CertificateLookup } from "../../ca/access/certificate-lookup.js";
import { CaError } from "../../ca/errors.js";
import type { IssuanceService } from "../../ca/issuance/issuance-service.js";
import { linksAround, type CertificateLinkStore } from "../../ca/linkage/certificate-links.js";
import type { OperatorRole } from "../../ca/operators/roles.js";
import { accessScopeOf, purposeQuery } from "../access-scope.js";
import { clientOf, operatorOf, type ApiMiddleware, type ApiState } from "../api-state.js";
import { requireClient } from "../client-identity.js";
import { parsedJsonBody } from "../json-body.js";
import type { OpenApiDocument } from "../openapi.js";
import { route } from "../route-contract.js";
import { certificateView, certificateViewWithLinks, serialPathParam } from "../certificate-view.js";

export interface IssuanceRouteDeps {
  readonly issuance: Pick<IssuanceService, "issue">;
  /** The object-level policy's read of one certificate (ca/access/certificate-lookup.ts). */
  readonly lookup: Pick<CertificateLookup, "read">;
  /** The linkage graph shown with a certificate read (docs/linkage.md); absent: no `links` in the answer. */
  readonly links?: Pick<CertificateLinkStore, "from" | "to">;
  /** Operator session middleware (api/operator-session.ts), bound to its auth service. */
  readonly requireOperator: (...roles: OperatorRole[]) => ApiMiddleware;
  /** Terminal enrolment + operating hours check (api/operator-session.ts). */
  readonly requireActiveTerminal: ApiMiddleware;
}

/** Idempotency-Key (IETF draft-ietf-httpapi-idempotency-key-header): 1–128 visible ASCII characters. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

/**
 * The issuance request as documented (docs/api.md §4). The core parses it (ca/issuance/issuance-request.ts
 * parseIssuanceRequest, ca/residents/resident-fields.ts): it refuses unknown fields at every level and
 * hashes the body for idempotency, so the route hands the body on as it came.
 */
const issuanceDoc = z.strictObject({
  municipalityCode: z.string().describe("6 digits with check digit: the terminal's enrolled municipality"),
  applicationDate: z.string().describe("YYYY-MM-DD"),
  residentCode: z.string().describe("11 digits"),
  resident: z.looseObject({}).describe("the resident's recorded fields"),
  requests: z.array(z.strictObject({ kind: z.enum(["sign", "auth"]), csr: z.string().describe("PEM or base64 PKCS#10 from the card") })).min(1).max(2),
});

/** `GET /v1/certificates/{serial}` takes only `purpose` (required from an admin workstation). */
const readQuery = z.object({ purpose: z.string().optional().describe("required from an admin workstation: why the record is read (4–200 characters, recorded)") });

/** docs/api.md §4: `POST /v1/issuances` and `GET /v1/certificates/{serial}`. */
export function issuanceRoutes(deps: IssuanceRouteDeps) {
  return (openapi: OpenApiDocument): Router<ApiState> => {
    const router = new Router<ApiState>();
    route(
      router,
      openapi,
      {
        method: "post",
        path: "/issuances",
        summary: "Issue a resident's signing and/or user-authentication certificates (all or none)",
        roles: ["terminal", "terminal-operator"],
        guard: [requireClient("terminal"), deps.requireActiveTerminal, deps.requireOperator("terminal-operator")],
        headers: { "Idempotency-Key": { required: true, description: "retry key, scoped to the terminal" } },
        bodyDoc: issuanceDoc,
        responses: {
          "201": "the issued certificates (Cache-Control: no-store)",
          "400": "malformed field (checked before any decision that depends on the body)",
          "403": "municipalityCode is not the terminal's enrolled municipality",
          "409": "key reuse, record mismatch (including a resident on file in another municipality: the same answer, no field compared), or idempotency conflict",
          "413": "body too large",
          "415": "body not application/json",
          "422": "refused by the profile",
          "423": "operator locked",
        },
      },
      async function issueCertificates(ctx) {
        const key = ctx.get("Idempotency-Key");
        if (!key) throw new CaError("invalid-input", "the Idempotency-Key header is required", { field: "Idempotency-Key" });
        if (!IDEMPOTENCY_KEY.test(key)) throw new CaError("invalid-input", "must be 1–128 visible ASCII characters", { field: "Idempotency-Key" });
        const client = clientOf(ctx);
        // The terminal acts for the municipality it is enrolled for (告示334号 第4-4(5)); the service parses
        // the body first (400) and only then compares its municipality (ca/access/resident-access.ts).
        const scope = accessScopeOf(ctx, () => "issuance");
        if (scope.kind !== "terminal") throw new CaError("forbidden", "issuance is requested from a counter terminal");
        const operator = operatorOf(ctx);
        const { answer, replayed } = await deps.issuance.issue({ terminalId: client.id, operatorId: operator.operatorId, idempotencyKey: key, municipalityCode: scope.municipalityCode }, parsedJsonBody(ctx));
        ctx.status = 201;
        if (replayed) ctx.set("Idempotent-Replayed", "true");
        ctx.set("Location", `/v1/issuances/${answer.issuanceId}`);
        ctx.body = answer;
      },
    );

    route(
      router,
      openapi,
      {
        method: "get",
        path: "/certificates/:serial",
        summary:
          "A certificate's record and status. A counter terminal reads only certificates of residents of its municipality (another one's answers 404 like an unknown serial, audited); an admin workstation states a purpose. Every read is audited.",
        roles: ["terminal", "admin", "terminal-operator", "ca-operator", "auditor"],
        guard: [requireClient("terminal", "admin"), deps.requireActiveTerminal, deps.requireOperator("terminal-operator", "ca-operator", "auditor")],
        params: { serial: serialPathParam },
        // Whether `purpose` is required depends on the workstation: accessScopeOf reads it (purposeQuery).
        query: readQuery,
        queryParsedBy: "handler",
        strictQuery: true,
        responses: { "200": "the record (Cache-Control: no-store)", "400": "malformed serial, unknown query parameter, missing purpose (admin workstation)", "404": "unknown serial, or a certificate the terminal may not see" },
      },
      async function readCertificate(ctx, { params }) {
        const scope = accessScopeOf(ctx, () => purposeQuery(ctx));
        const cert = await deps.lookup.read(operatorOf(ctx), scope, params.serial);
        // Read after the object-level policy allowed (and audited) the read of this certificate.
        ctx.body = deps.links ? certificateViewWithLinks(cert, await linksAround(cert.serial, deps.links)) : certificateView(cert);
      },
    );
    return router;
  };
}
