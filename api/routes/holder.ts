import Router from "@koa/router";
import { z } from "zod";
import { assertClientRegistered, type ClientCertificateStore } from "../../ca/operators/client-register.js";
import type { PhoneHolderActions, PhoneAction } from "../../ca/phone/phone-actions.js";
import type { PhoneIssuanceService } from "../../ca/phone/phone-issuance-service.js";
import { clientOf, type ApiMiddleware, type ApiState } from "../api-state.js";
import { requireClient } from "../client-identity.js";
import type { OpenApiDocument } from "../openapi.js";
import { route } from "../route-contract.js";

export interface HolderRouteDeps {
  readonly phoneIssuance: Pick<PhoneIssuanceService, "apply">;
  readonly phoneActions: Pick<PhoneHolderActions, "act">;
  readonly clients: Pick<ClientCertificateStore, "get">;
}

/** A signed request: a base64 DER CMS SignedData (docs/phone.md). 64 kB of base64 is far above two CSRs and a certificate. */
const signedBody = z.strictObject({ signedRequest: z.string().min(1).max(64 * 1024).describe("base64 DER CMS SignedData (RFC 5652) signed with the card's signing key") });

/**
 * The holder's online routes (issue 16 item 1, docs/phone.md, docs/api.md "Holder"), on the HTTPS listener,
 * relayed by a registered holder portal (the マイナポータル role: a service-CA client certificate with
 * OU=holder-portal, enrolled by the security officer like a feed). No counter terminal, no operator session:
 * the holder proves the card (and its PIN) by signing with the card's signing key.
 */
export function holderRoutes(deps: HolderRouteDeps) {
  // The service CA publishes no CRL: a portal certificate counts only while the register holds it, active.
  const registeredPortal: ApiMiddleware = async function registeredHolderPortal(ctx, next) {
    const client = clientOf(ctx);
    assertClientRegistered(await deps.clients.get("holder-portal", client.id), { fingerprint: client.fingerprint256 });
    await next();
  };
  const portal = { roles: ["holder-portal"], guard: [requireClient("holder-portal"), registeredPortal] };
  const refusals = {
    "400": "malformed signedRequest or content (field named)",
    "403": "not a registered holder portal",
    "409": "signedRequest already used",
    "422": "signature, card certificate (ours, valid, not held, signing), purpose or signedAt refused (field signedRequest)",
  };

  return (openapi: OpenApiDocument): Router<ApiState> => {
    const router = new Router<ApiState>();
    route(
      router,
      openapi,
      {
        method: "post",
        path: "/holder/phone-applications",
        summary: "Smartphone certificates applied for online: content {purpose: phone-application, signedAt, phoneId, csrs: {sign, auth}} signed with the card's signing key",
        ...portal,
        body: signedBody,
        responses: { "201": "{certificates: [auth, sign]} as POST /v1/issuances answers them; a retry of the same signedRequest answers the same (Idempotent-Replayed: true)", ...refusals },
      },
      async function applyForPhone(ctx, { body }) {
        const { answer, replayed } = await deps.phoneIssuance.apply({ portalId: clientOf(ctx).id }, body.signedRequest);
        // As POST /v1/issuances answers a retry: the same 201, marked.
        ctx.status = 201;
        if (replayed) ctx.set("Idempotent-Replayed", "true");
        ctx.body = answer;
      },
    );
    for (const [action, what] of [
      ["revocation", "Revoke both phone certificates (content {purpose: phone-revocation, signedAt, reason?})"],
      ["suspension", "Suspend the phone user-authentication certificate (content {purpose: phone-suspension, signedAt})"],
      ["resumption", "Lift the suspension of the phone user-authentication certificate (content {purpose: phone-resumption, signedAt}); only this route lifts it"],
    ] as const satisfies ReadonlyArray<readonly [PhoneAction, string]>) {
      route(
        router,
        openapi,
        { method: "post", path: `/holder/phone-certificates/${action}`, summary: what, ...portal, body: signedBody, responses: { "200": "{certificates: [{serialNumber, kind, status, revocationReason}]}", ...refusals } },
        async function phoneAction(ctx, { body }) {
          ctx.body = await deps.phoneActions.act({ portalId: clientOf(ctx).id }, action, body.signedRequest);
        },
      );
    }
    return router;
  };
}
