import Router from "@koa/router";
import type { Middleware } from "koa";
import { z } from "zod";
import type { OperatorPrincipal } from "../../ca/operators/operator-principal.js";
import { MAX_COMMENT_LENGTH, type RevocationService } from "../../ca/revocation/revocation-service.js";
import type { OperatorRole } from "../../ca/operators/roles.js";
import { accessScopeOf } from "../access-scope.js";
import { certificateView, serialParam } from "../certificate-view.js";
import { requireClient, type ClientIdentity } from "../client-identity.js";
import { readJson } from "../json-body.js";
import type { OpenApiDocument } from "../openapi.js";

export interface RevocationRouteDeps {
  readonly revocation: Pick<RevocationService, "revoke" | "hold">;
  /** Operator session middleware (api/operator-session.ts requireOperator bound to its auth service). */
  readonly requireOperator: (...roles: OperatorRole[]) => Middleware;
  /** Terminal enrolment + operating hours (api/operator-session.ts requireActiveTerminal). */
  readonly requireActiveTerminal: Middleware;
}

// The reason is checked by the service (CONTRACT §6 and the operator's role); here only its shape.
const revocationBody = z.strictObject({ reason: z.string().min(1).max(64), comment: z.string().max(MAX_COMMENT_LENGTH).nullable().optional() });
const holdBody = z.strictObject({ comment: z.string().max(MAX_COMMENT_LENGTH).nullable().optional() });

/**
 * CONTRACT §4: `POST /v1/certificates/{serial}/revocation` `{reason, comment?}` → 200 the record;
 * `POST /v1/certificates/{serial}/hold` `{comment?}` → 200 `{certificates: [record…]}` (lost card:
 * both certificates of the card). From a counter terminal (terminal operators: unspecified,
 * keyCompromise) or an admin workstation (ca-operators: any reason of CONTRACT §6). 409 when the
 * certificate is revoked already (or, for a hold, held already).
 *
 * Whose (ca/access/resident-access.ts): a counter terminal acts only on certificates of its municipality's
 * residents (another serial answers 404 as an unknown one, audited); an admin workstation acts on any,
 * the stated reason (and comment) being its recorded purpose. How many (ca/revocation/revocation-window.ts): past
 * the operator's sliding window a revocation or hold answers 409 and needs the approved bulk route.
 */
export function revocationRoutes(deps: RevocationRouteDeps) {
  return (openapi: OpenApiDocument): Router => {
    const router = new Router();
    const guard = [requireClient("terminal", "admin"), deps.requireActiveTerminal, deps.requireOperator("terminal-operator", "ca-operator")];

    router.post("/certificates/:serial/revocation", ...guard, async (ctx) => {
      const serial = serialParam(ctx);
      const body = await readJson(ctx, revocationBody);
      const operator = ctx.state.operator as OperatorPrincipal;
      const client = ctx.state.client as ClientIdentity;
      const scope = accessScopeOf(ctx, () => (body.comment ? `${body.reason}: ${body.comment}` : body.reason));
      const cert = await deps.revocation.revoke(operator, serial, body, { clientId: `${client.role}:${client.id}`, scope });
      ctx.set("Cache-Control", "no-store");
      ctx.body = certificateView(cert);
    });
    openapi.add("post", "/v1/certificates/{serial}/revocation", {
      summary: "Revoke a certificate (holder's request, key compromise; ca-operators: any reason of CONTRACT §6)",
      roles: ["terminal", "admin", "terminal-operator", "ca-operator"],
      parameters: [{ name: "serial", in: "path", required: true }],
      requestBody: { type: "object", required: ["reason"], properties: { reason: { type: "string", enum: ["unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded", "cessationOfOperation"] }, comment: { type: "string" } } },
      responses: {
        "200": "the certificate's record after the revocation (Cache-Control: no-store)",
        "400": "unknown reason",
        "403": "reason not allowed for the role",
        "404": "unknown serial, or a certificate of a resident of another municipality (terminal)",
        "409": "already revoked, or more than 10 revocations and holds by this operator within an hour: POST /v1/admin/revocations with a second operator's approval",
        "422": "certificateHold: use /hold",
      },
    });

    router.post("/certificates/:serial/hold", ...guard, async (ctx) => {
      const serial = serialParam(ctx);
      const body = ctx.request.length ? await readJson(ctx, holdBody) : {};
      const operator = ctx.state.operator as OperatorPrincipal;
      const client = ctx.state.client as ClientIdentity;
      const scope = accessScopeOf(ctx, () => (body.comment ? `certificateHold: ${body.comment}` : "certificateHold"));
      const held = await deps.revocation.hold(operator, serial, body, { clientId: `${client.role}:${client.id}`, scope });
      ctx.set("Cache-Control", "no-store");
      ctx.body = { certificates: held.map(certificateView) };
    });
    openapi.add("post", "/v1/certificates/{serial}/hold", {
      summary: "Lost card: put both certificates of the card on hold (certificateHold; never released)",
      roles: ["terminal", "admin", "terminal-operator", "ca-operator"],
      parameters: [{ name: "serial", in: "path", required: true }],
      requestBody: { type: "object", properties: { comment: { type: "string" } } },
      responses: {
        "200": "the certificates put on hold (Cache-Control: no-store)",
        "404": "unknown serial, or a certificate of a resident of another municipality (terminal)",
        "409": "revoked or already on hold, or past the operator's revocation window (as for /revocation)",
      },
    });
    return router;
  };
}
