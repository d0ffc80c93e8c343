import Router from "@koa/router";
import type { Middleware } from "koa";
import type { CertificateLookup } from "../../ca/access/certificate-lookup.js";
import { CaError } from "../../ca/errors.js";
import type { IssuanceService } from "../../ca/issuance/issuance-service.js";
import type { OperatorPrincipal } from "../../ca/operators/operator-principal.js";
import type { OperatorRole } from "../../ca/operators/roles.js";
import { accessScopeOf, purposeQuery } from "../access-scope.js";
import type { ClientIdentity } from "../client-identity.js";
import { requireClient } from "../client-identity.js";
import type { OpenApiDocument } from "../openapi.js";
import { certificateView, serialParam } from "../certificate-view.js";

export interface IssuanceRouteDeps {
  readonly issuance: Pick<IssuanceService, "issue">;
  /** The object-level policy's read of one certificate (ca/access/certificate-lookup.ts). */
  readonly lookup: Pick<CertificateLookup, "read">;
  /** Operator session middleware (api/operator-session.ts), bound to its auth service. */
  readonly requireOperator: (...roles: OperatorRole[]) => Middleware;
  /** Terminal enrolment + operating hours check (api/operator-session.ts). */
  readonly requireActiveTerminal: Middleware;
}

/** Idempotency-Key (IETF draft-ietf-httpapi-idempotency-key-header): 1–128 visible ASCII characters. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

/** CONTRACT §4: `POST /v1/issuances` and `GET /v1/certificates/{serial}`. */
export function issuanceRoutes(deps: IssuanceRouteDeps) {
  return (openapi: OpenApiDocument): Router => {
    const router = new Router();
    router.post("/issuances", requireClient("terminal"), deps.requireActiveTerminal, deps.requireOperator("terminal-operator"), async (ctx) => {
      const key = ctx.get("Idempotency-Key");
      if (!key) throw new CaError("invalid-input", "the Idempotency-Key header is required", { field: "Idempotency-Key" });
      if (!IDEMPOTENCY_KEY.test(key)) throw new CaError("invalid-input", "must be 1–128 visible ASCII characters", { field: "Idempotency-Key" });
      const client = ctx.state.client as ClientIdentity;
      // The terminal acts for the municipality it is enrolled for (告示334号 第4-4(5)); the service parses
      // the body first (400) and only then compares its municipality (ca/access/resident-access.ts).
      const scope = accessScopeOf(ctx, () => "issuance");
      if (scope.kind !== "terminal") throw new CaError("forbidden", "issuance is requested from a counter terminal");
      const operator = ctx.state.operator as OperatorPrincipal;
      const { answer, replayed } = await deps.issuance.issue({ terminalId: client.id, operatorId: operator.operatorId, idempotencyKey: key, municipalityCode: scope.municipalityCode }, (ctx.request as { body?: unknown }).body);
      ctx.set("Cache-Control", "no-store");
      ctx.status = 201;
      if (replayed) ctx.set("Idempotent-Replayed", "true");
      ctx.set("Location", `/v1/issuances/${answer.issuanceId}`);
      ctx.body = answer;
    });
    openapi.add("post", "/v1/issuances", {
      summary: "Issue a resident's signing and/or user-authentication certificates (all or none)",
      roles: ["terminal", "terminal-operator"],
      parameters: [{ name: "Idempotency-Key", in: "header", required: true, description: "retry key, scoped to the terminal" }],
      requestBody: { type: "object", required: ["municipalityCode", "applicationDate", "residentCode", "resident", "requests"] },
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
    });

    router.get("/certificates/:serial", requireClient("terminal", "admin"), deps.requireActiveTerminal, deps.requireOperator("terminal-operator", "ca-operator", "auditor"), async (ctx) => {
      for (const name of Object.keys(ctx.query)) if (name !== "purpose") throw new CaError("invalid-input", "unknown query parameter", { field: name.length <= 40 && /^[A-Za-z]+$/.test(name) ? name : "query" });
      const serial = serialParam(ctx);
      const scope = accessScopeOf(ctx, () => purposeQuery(ctx));
      const cert = await deps.lookup.read(ctx.state.operator as OperatorPrincipal, scope, serial);
      ctx.set("Cache-Control", "no-store");
      ctx.body = certificateView(cert);
    });
    openapi.add("get", "/v1/certificates/{serial}", {
      summary:
        "A certificate's record and status. A counter terminal reads only certificates of residents of its municipality (another one's answers 404 like an unknown serial, audited); an admin workstation states a purpose. Every read is audited.",
      roles: ["terminal", "admin", "terminal-operator", "ca-operator", "auditor"],
      parameters: [
        { name: "serial", in: "path", required: true },
        { name: "purpose", in: "query", required: false, description: "required from an admin workstation: why the record is read (4–200 characters, recorded)" },
      ],
      responses: { "200": "the record (Cache-Control: no-store)", "400": "malformed serial, unknown query parameter, missing purpose (admin workstation)", "404": "unknown serial, or a certificate the terminal may not see" },
    });
    return router;
  };
}
