import Router from "@koa/router";
import { z } from "zod";
import type { ConsentRegister } from "../../ca/consents/consent-register.js";
import { decodeSignedRequest } from "../../ca/holder/holder-signed-request.js";
import { clientOf, type ApiMiddleware, type ApiState } from "../api-state.js";
import type { OpenApiDocument } from "../openapi.js";
import { route } from "../route-contract.js";

export interface HolderConsentRouteDeps {
  readonly consents: Pick<ConsentRegister, "grant" | "withdraw">;
  /** The holder portal's guard (its service-CA client certificate, api/wiring/holder.ts). */
  readonly portal: readonly ApiMiddleware[];
  /** The x-roles of the routes (the portal's machine role). */
  readonly roles: readonly string[];
}

const signedBody = z.strictObject({
  signedRequest: z.string().min(1).max(64 * 1024).describe("base64 DER CMS SignedData over UTF-8 JSON, signed with the card's user-auth key (docs/relying-parties.md \"Consents\")"),
});

const RESPONSES = {
  "400": "malformed signedRequest or content field (named)",
  "409": "this signed request was already used",
  "422": "the signer's certificate is not a valid card user-auth certificate of this CA, the purpose differs, signedAt is stale, or relyingParty is not registered",
};

/**
 * docs/relying-parties.md "Consents" (issue 16 item 3): the resident grants or withdraws consent for a
 * named relying party through the holder portal, by a request signed with the card's user-auth key.
 */
export function holderConsentRoutes(deps: HolderConsentRouteDeps) {
  return (openapi: OpenApiDocument): Router<ApiState> => {
    const router = new Router<ApiState>();
    const actor = (ctx: Parameters<ApiMiddleware>[0]): string => `${clientOf(ctx).role}:${clientOf(ctx).id}`;

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/holder/consents",
        summary: "Grant consent to a relying party for a scope of queries: content {purpose: consent-grant, signedAt, relyingParty, scope}; audited",
        roles: deps.roles,
        guard: deps.portal,
        body: signedBody,
        responses: { "201": "{consent: {relyingParty, scope, grantedAt}}", ...RESPONSES },
      },
      async function grantConsent(ctx, { body }) {
        const c = await deps.consents.grant(actor(ctx), decodeSignedRequest(body.signedRequest));
        ctx.status = 201;
        ctx.body = { consent: { relyingParty: c.partyId, scope: c.scope, grantedAt: c.grantedAt.toISOString() } };
      },
    );

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/holder/consents/withdrawal",
        summary: "Withdraw the consent to a relying party: content {purpose: consent-withdrawal, signedAt, relyingParty}; takes effect at the next query; audited",
        roles: deps.roles,
        guard: deps.portal,
        body: signedBody,
        responses: { "200": "{withdrawn: {relyingParty, withdrawnAt}}", ...RESPONSES, "404": "no consent to this relying party to withdraw" },
      },
      async function withdrawConsent(ctx, { body }) {
        const w = await deps.consents.withdraw(actor(ctx), decodeSignedRequest(body.signedRequest));
        ctx.body = { withdrawn: { relyingParty: w.partyId, withdrawnAt: w.withdrawnAt.toISOString() } };
      },
    );
    return router;
  };
}
