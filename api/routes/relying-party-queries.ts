import Router from "@koa/router";
import { z } from "zod";
import { CaError } from "../../ca/errors.js";
import type { RelyingPartyAuthenticator } from "../../ca/relying-parties/relying-party.js";
import type { RelyingPartyQueries } from "../../ca/relying-parties/relying-party-queries.js";
import type { QueryName } from "../../ca/relying-parties/verifier-types.js";
import { clientOf, type ApiContext, type ApiMiddleware, type ApiState } from "../api-state.js";
import { requireClient } from "../client-identity.js";
import type { OpenApiDocument } from "../openapi.js";
import { route } from "../route-contract.js";

export interface RelyingPartyQueryRouteDeps {
  readonly queries: Pick<RelyingPartyQueries, "ask">;
  /** The register of parties (active check of the client certificate's CN). */
  readonly parties: Pick<RelyingPartyAuthenticator, "byCertificateId">;
}

const serial = z
  .string()
  .regex(/^[0-9A-Fa-f]{1,40}$/, "must be the serial number in hex")
  .transform((s) => s.toLowerCase())
  .describe("serial number, hex (docs/api.md §0)");
const onBehalfOf = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/)
  .optional()
  .describe("platform operators: the service provider asked for (施行規則29条); its consent counts");

const currentSerialBody = z.strictObject({ serial, kind: z.enum(["sign", "auth"]).describe("the kind of the old certificate"), onBehalfOf });
const serialBody = z.strictObject({ serial, onBehalfOf });

/** The party of the client certificate (OU=relying-party, CN=<id>), active in the register; else 401. */
function requireRelyingPartyCertificate(deps: RelyingPartyQueryRouteDeps): ApiMiddleware {
  return async function relyingPartyCertificate(ctx, next) {
    const party = await deps.parties.byCertificateId(clientOf(ctx).id);
    if (!party) throw new CaError("unauthenticated", "this client certificate names no active relying party");
    await next();
  };
}


const RESPONSES = {
  "400": "malformed field",
  "401": "not an active relying party's client certificate",
  "403": "the party's verifier types or environment do not allow this query, or onBehalfOf is not its service provider",
  "404": "no answer for this serial: unknown, of another kind, not one the party could know, no consent, or nothing linked (one answer for all)",
  "429": "the party's query limit (Retry-After)",
};

/**
 * docs/relying-parties.md "Queries" (issue 16 item 4): on the HTTPS listener, with the party's
 * service-CA client certificate (OU=relying-party). [U] Not by API key alone: the answers carry
 * personal data and serials of one holder, so the party proves itself in the TLS handshake.
 */
export function relyingPartyQueryRoutes(deps: RelyingPartyQueryRouteDeps) {
  return (openapi: OpenApiDocument): Router<ApiState> => {
    const router = new Router<ApiState>();
    const guard = [requireClient("relying-party"), requireRelyingPartyCertificate(deps)];
    const roles = ["relying-party"];
    const ask = (ctx: ApiContext, query: QueryName, body: { serial: string; onBehalfOf?: string | undefined }) =>
      deps.queries.ask({ partyId: clientOf(ctx).id, ...(body.onBehalfOf === undefined ? {} : { onBehalfOf: body.onBehalfOf }) }, query, body.serial);

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/relying-party/current-serial",
        summary: "The holder's current certificate of the same kind and device for an old serial (successor links), with the holder's consent",
        roles,
        guard,
        body: currentSerialBody,
        responses: { "200": "{query, serial, currentSerial, status, notAfter}", ...RESPONSES },
      },
      async function currentSerial(ctx, { body }) {
        ctx.body = await ask(ctx, body.kind === "sign" ? "current-serial-sign" : "current-serial-auth", body);
      },
    );

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/relying-party/card-signing-serial",
        summary: "The card signing certificate a phone signing certificate corresponds to (公的個人認証法 第18条4項; signing verifiers)",
        roles,
        guard,
        body: serialBody,
        responses: { "200": "{query, phoneSerial, cardSerial}", ...RESPONSES },
      },
      async function cardSigningSerial(ctx, { body }) {
        ctx.body = await ask(ctx, "card-phone-pair", body);
      },
    );

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/relying-party/sign-auth-pair",
        summary: "The signing ↔ user-auth serial pair of one holder (第18条5項; parties registered as both)",
        roles,
        guard,
        body: serialBody,
        responses: { "200": "{query, signSerial, authSerial}", ...RESPONSES },
      },
      async function signAuthPair(ctx, { body }) {
        ctx.body = await ask(ctx, "sign-auth-pair", body);
      },
    );

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/relying-party/latest-four-items",
        summary: "The latest four items (name, address, date of birth, gender) and the current signing serial, with the holder's consent (最新の基本4情報)",
        roles,
        guard,
        body: serialBody,
        responses: { "200": "{query, serial, currentSigningSerial, name, address, dateOfBirth, gender, asOf}", ...RESPONSES, "409": "the signing certificate is revoked or suspended and no successor has been issued: nothing is provided" },
      },
      async function latestFourItems(ctx, { body }) {
        ctx.body = await ask(ctx, "latest-four-items", body);
      },
    );
    return router;
  };
}
