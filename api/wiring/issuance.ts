import type Router from "@koa/router";
import { CertificateLookup } from "../../ca/access/certificate-lookup.js";
import { IssuanceService } from "../../ca/issuance/issuance-service.js";
import type { AuthorityResolver } from "../../ca/issuance/issuing-authority.js";
import { createAliasFormatter } from "../../ca/residents/alias-format.js";
import { KnexResidentMunicipalityStore } from "../../db/resident-municipality-store.js";
import type { OpenApiDocument } from "../openapi.js";
import { issuanceRoutes } from "../routes/issuances.js";
import type { OperatorGuards } from "./operator-auth.js";
import type { ServiceWith } from "./service.js";

/**
 * Issuance (docs/api.md §4, docs/domain.md §2): the IssuanceService over the knex stores and the issuing
 * authorities of the live CA generations, and its routes (`POST /v1/issuances`, `GET /v1/certificates/{serial}`
 * through the object-level read policy of ca/access/).
 */

/** What issuance needs of the opened service. */
export type IssuanceDeps = ServiceWith<"db" | "clock" | "random", "certificates" | "issuances" | "residents" | "audit" | "certificateLinks">;

export interface IssuanceFeature {
  readonly issuance: IssuanceService;
  router(guards: OperatorGuards): (openapi: OpenApiDocument) => Router;
}

/** @param authorities resolves through the CA generations in use (api/wiring/live-ca-generations.ts) */
export function buildIssuance(deps: IssuanceDeps, authorities: AuthorityResolver): IssuanceFeature {
  const { db, clock, random, stores } = deps;
  const residentMunicipalities = new KnexResidentMunicipalityStore(db);
  const issuance = new IssuanceService({
    clock,
    random,
    transactions: db,
    certificates: stores.certificates,
    issuances: stores.issuances,
    residents: stores.residents,
    audit: stores.audit,
    authorities,
    aliasFormatter: createAliasFormatter(),
    residentMunicipalities,
  });
  const lookup = new CertificateLookup({ certificates: stores.certificates, residents: residentMunicipalities, audit: stores.audit, clock });
  return {
    issuance,
    router: (guards) => issuanceRoutes({ issuance, lookup, links: stores.certificateLinks, requireOperator: guards.requireOperator, requireActiveTerminal: guards.requireActiveTerminal }),
  };
}
