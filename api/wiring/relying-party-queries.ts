import type Router from "@koa/router";
import { ConsentRegister } from "../../ca/consents/consent-register.js";
import { verifyHolderSignedRequest } from "../../ca/holder/holder-signed-request.js";
import { assertClientRegistered } from "../../ca/operators/client-register.js";
import type { DisclosureSource } from "../../ca/records/disclosure.js";
import { QueryLimit } from "../../ca/relying-parties/query-limit.js";
import { RelyingPartyQueries } from "../../ca/relying-parties/relying-party-queries.js";
import { KnexCertificateLinkStore } from "../../db/certificate-link-store.js";
import { KnexConsentStore } from "../../db/consent-store.js";
import { KnexHolderRequestStore } from "../../db/holder-request-store.js";
import { relyingPartyDisclosureSources } from "../../db/inquiry-disclosure-sources.js";
import { KnexProvisionStore, KnexSerialKnowledge } from "../../db/provision-store.js";
import { KnexQueryWindowStore, KnexResidentFourItems } from "../../db/relying-party-query-store.js";
import { clientOf, type ApiMiddleware } from "../api-state.js";
import { requireClient } from "../client-identity.js";
import type { OpenApiDocument } from "../openapi.js";
import { holderConsentRoutes } from "../routes/holder-consents.js";
import { relyingPartyQueryRoutes } from "../routes/relying-party-queries.js";
import type { ServiceWith } from "./service.js";

/** What the relying-party queries and the consent register need of the opened service. */
export type RelyingPartyQueryWiringDeps = ServiceWith<"db" | "clock" | "relyingParties" | "config", "audit" | "certificates" | "relyingParties" | "clientCertificates">;

export interface RelyingPartyQueryFeature {
  readonly queries: RelyingPartyQueries;
  readonly consents: ConsentRegister;
  /** The queries (relying-party client certificate) and the holder portal's consent routes, for `v1Routers`. */
  readonly v1Routers: ReadonlyArray<(openapi: OpenApiDocument) => Router>;
  /** The disclosure report's sections on consents and provisions (api/wiring/admin-controls.ts `disclosureSources`). */
  readonly disclosureSources: readonly DisclosureSource[];
}


/**
 * Relying parties grow up (issue 16 items 3–4, docs/relying-parties.md): the queries (current serial,
 * card ↔ phone, sign ↔ auth, latest four items) with the per-party limit, the known-serial rule and the
 * record of every answer, and the consent register fed by the holder portal. Configuration
 * `relyingPartyQueries` (api/config.ts) holds every [U].
 */
export function buildRelyingPartyQueries(service: RelyingPartyQueryWiringDeps): RelyingPartyQueryFeature {
  const { db, clock, stores, config } = service;
  const settings = config.relyingPartyQueries;
  const queries = new RelyingPartyQueries({
    parties: stores.relyingParties,
    certificates: stores.certificates,
    links: new KnexCertificateLinkStore(db),
    consents: new KnexConsentStore(db),
    residents: new KnexResidentFourItems(db),
    knowledge: new KnexSerialKnowledge(db),
    provisions: new KnexProvisionStore(db),
    limit: new QueryLimit(new KnexQueryWindowStore(db), clock, settings.limit),
    audit: stores.audit,
    transactions: db,
    clock,
    settings,
  });
  // The same window as the holder's phone routes (config `phone.signedAtToleranceMs`, docs/phone.md).
  const verifierDeps = { certificates: stores.certificates, audit: stores.audit, clock, signedAtToleranceMs: config.phone.signedAtToleranceMs };
  const consents = new ConsentRegister({
    verify: (der, expected) => verifyHolderSignedRequest(verifierDeps, der, expected),
    requests: new KnexHolderRequestStore(db),
    consents: new KnexConsentStore(db),
    parties: stores.relyingParties,
    audit: stores.audit,
    transactions: db,
    clock,
  });
  // As api/routes/holder.ts: the service CA publishes no CRL, so a portal certificate counts only while the register holds it, active.
  const registeredPortal: ApiMiddleware = async function registeredHolderPortal(ctx, next) {
    const client = clientOf(ctx);
    assertClientRegistered(await stores.clientCertificates.get("holder-portal", client.id), { fingerprint: client.fingerprint256 });
    await next();
  };
  return {
    queries,
    consents,
    v1Routers: [
      relyingPartyQueryRoutes({ queries, parties: service.relyingParties }),
      holderConsentRoutes({ consents, portal: [requireClient("holder-portal"), registeredPortal], roles: ["holder-portal"] }),
    ],
    disclosureSources: relyingPartyDisclosureSources(db),
  };
}
