import Router from "@koa/router";
import type { Middleware } from "koa";
import { CaError } from "../../ca/errors.js";
import type { IssuanceService } from "../../ca/issuance-service.js";
import type { OperatorPrincipal } from "../../ca/operator-principal.js";
import type { OperatorRole } from "../../ca/roles.js";
import type { CertificateStore } from "../../ca/stores.js";
import type { ClientIdentity } from "../client-identity.js";
import { requireClient } from "../client-identity.js";
import type { OpenApiDocument } from "../openapi.js";
import { certificateView, serialParam } from "../certificate-view.js";

export interface IssuanceRouteDeps {
  readonly issuance: IssuanceService;
  readonly certificates: Pick<CertificateStore, "get">;
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
      // A terminal acts for the municipality it is enrolled for (告示334号 第4-4(5): only assigned duties).
      const terminal = ctx.state.terminal as { municipalityCode: string | null } | undefined;
      const body = ctx.request.body as { municipalityCode?: unknown } | undefined;
      if (terminal?.municipalityCode && body && typeof body === "object" && body.municipalityCode !== terminal.municipalityCode) {
        throw new CaError("forbidden", "this terminal is enrolled for another municipality", { field: "municipalityCode" });
      }
      const operator = ctx.state.operator as OperatorPrincipal;
      const { answer, replayed } = await deps.issuance.issue({ terminalId: client.id, operatorId: operator.operatorId, idempotencyKey: key }, ctx.request.body);
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
      responses: { "201": "the issued certificates", "400": "malformed field", "409": "key reuse, record mismatch or idempotency conflict", "413": "body too large", "422": "refused by the profile", "423": "operator locked" },
    });

    router.get("/certificates/:serial", requireClient("terminal", "admin"), deps.requireOperator("terminal-operator", "ca-operator", "auditor"), async (ctx) => {
      const cert = await deps.certificates.get(serialParam(ctx));
      if (!cert) throw new CaError("not-found", "no such certificate");
      ctx.body = certificateView(cert);
    });
    openapi.add("get", "/v1/certificates/{serial}", {
      summary: "A certificate's record and status",
      roles: ["terminal", "admin", "terminal-operator", "ca-operator", "auditor"],
      parameters: [{ name: "serial", in: "path", required: true }],
      responses: { "200": "the record", "400": "malformed serial", "404": "unknown serial" },
    });
    return router;
  };
}
