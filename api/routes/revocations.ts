import Router from "@koa/router";
import { z } from "zod";
import { MAX_COMMENT_LENGTH, type RevocationService } from "../../ca/revocation/revocation-service.js";
import type { OperatorRole } from "../../ca/operators/roles.js";
import { accessScopeOf } from "../access-scope.js";
import { clientOf, operatorOf, type ApiMiddleware, type ApiState } from "../api-state.js";
import { certificateView, serialPathParam } from "../certificate-view.js";
import { requireClient } from "../client-identity.js";
import type { OpenApiDocument } from "../openapi.js";
import { route } from "../route-contract.js";

export interface RevocationRouteDeps {
  readonly revocation: Pick<RevocationService, "revoke" | "hold">;
  /** Operator session middleware (api/operator-session.ts requireOperator bound to its auth service). */
  readonly requireOperator: (...roles: OperatorRole[]) => ApiMiddleware;
  /** Terminal enrolment + operating hours (api/operator-session.ts requireActiveTerminal). */
  readonly requireActiveTerminal: ApiMiddleware;
}

// The reason is checked by the service (docs/api.md §6 and the operator's role); here only its shape.
const revocationBody = z.strictObject({
  reason: z.string().min(1).max(64).describe("unspecified or keyCompromise (terminal operators); any reason of docs/api.md §6 but certificateHold (ca-operators)"),
  comment: z.string().max(MAX_COMMENT_LENGTH).nullable().optional(),
});
const holdBody = z.strictObject({ comment: z.string().max(MAX_COMMENT_LENGTH).nullable().optional() });

/**
 * docs/api.md §4: `POST /v1/certificates/{serial}/revocation` `{reason, comment?}` → 200 the record;
 * `POST /v1/certificates/{serial}/hold` `{comment?}` → 200 `{certificates: [record…]}` (lost card:
 * both certificates of the card). From a counter terminal (terminal operators: unspecified,
 * keyCompromise) or an admin workstation (ca-operators: any reason of docs/api.md §6). 409 when the
 * certificate is revoked already (or, for a hold, held already).
 *
 * Whose (ca/access/resident-access.ts): a counter terminal acts only on certificates of its municipality's
 * residents (another serial answers 404 as an unknown one, audited); an admin workstation acts on any,
 * the stated reason (and comment) being its recorded purpose. How many (ca/revocation/revocation-window.ts): past
 * the operator's sliding window a revocation or hold answers 409 and needs the approved bulk route.
 */
export function revocationRoutes(deps: RevocationRouteDeps) {
  return (openapi: OpenApiDocument): Router<ApiState> => {
    const router = new Router<ApiState>();
    const guard = [requireClient("terminal", "admin"), deps.requireActiveTerminal, deps.requireOperator("terminal-operator", "ca-operator")];
    const who = { roles: ["terminal", "admin", "terminal-operator", "ca-operator"], guard, params: { serial: serialPathParam } };

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/certificates/:serial/revocation",
        summary: "Revoke a certificate (holder's request, key compromise; ca-operators: any reason of docs/api.md §6)",
        ...who,
        body: revocationBody,
        responses: {
          "200": "the certificate's record after the revocation (Cache-Control: no-store)",
          "400": "unknown reason",
          "403": "reason not allowed for the role",
          "404": "unknown serial, or a certificate of a resident of another municipality (terminal)",
          "409": "already revoked, or more than 10 revocations and holds by this operator within an hour: POST /v1/admin/revocations with a second operator's approval",
          "422": "certificateHold: use /hold",
        },
      },
      async function revokeCertificate(ctx, { params, body }) {
        const client = clientOf(ctx);
        const scope = accessScopeOf(ctx, () => (body.comment ? `${body.reason}: ${body.comment}` : body.reason));
        const cert = await deps.revocation.revoke(operatorOf(ctx), params.serial, body, { clientId: `${client.role}:${client.id}`, scope });
        ctx.set("Cache-Control", "no-store");
        ctx.body = certificateView(cert);
      },
    );

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/certificates/:serial/hold",
        summary: "Lost card: put both certificates of the card on hold (certificateHold; never released)",
        ...who,
        body: holdBody,
        bodyOptional: "if-length",
        responses: {
          "200": "the certificates put on hold (Cache-Control: no-store)",
          "404": "unknown serial, or a certificate of a resident of another municipality (terminal)",
          "409": "revoked or already on hold, or past the operator's revocation window (as for /revocation)",
        },
      },
      async function holdCard(ctx, { params, body }) {
        const client = clientOf(ctx);
        const scope = accessScopeOf(ctx, () => (body.comment ? `certificateHold: ${body.comment}` : "certificateHold"));
        const held = await deps.revocation.hold(operatorOf(ctx), params.serial, body, { clientId: `${client.role}:${client.id}`, scope });
        ctx.set("Cache-Control", "no-store");
        ctx.body = { certificates: held.map(certificateView) };
      },
    );
    return router;
  };
}
