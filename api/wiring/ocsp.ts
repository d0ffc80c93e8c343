import type Router from "@koa/router";
import type { Signer } from "../../ca/ports.js";
import { StatusAfterExpiry } from "../../ca/revocation/status-after-expiry.js";
import type { CaId } from "../../ca/types.js";
import type { RevocationAccessMode } from "../routes/crl.js";
import { KnexOcspStore } from "../../db/ocsp-store.js";
import { OcspService } from "../../ocsp/ocsp-service.js";
import { CachedRelyingPartyAuthenticator } from "../../ocsp/relying-party-cache.js";
import type { Config } from "../config.js";
import type { OpenApiDocument } from "../openapi.js";
import { ocspRoutes, type OcspRouteDeps } from "../routes/ocsp.js";
import type { ServiceWith } from "./service.js";

/**
 * OCSP (RFC 6960, docs/api.md §3): the responder of every CA generation with its response cache and
 * demand-driven signing (ocsp/), the responder certificates renewed with the CA keys, the batched access log,
 * and the routes (`POST /ocsp`, `GET /ocsp/…`, and the listeners' fast path for GETs).
 */

/** What the OCSP part needs of the opened service. */
export type OcspDeps = ServiceWith<"db" | "clock" | "random" | "hsm" | "metrics" | "logger" | "relyingParties", "caGenerations" | "audit" | "outbox"> & {
  readonly config: { readonly hsm: Pick<Config["hsm"], "poolSize" | "serviceKeySpec">; readonly ca: Pick<Config["ca"], "ocspResponderValidityDays">; readonly ocsp?: Config["ocsp"]; readonly revocationInfo?: Config["revocationInfo"] };
};

export interface OcspFeature {
  readonly ocsp: OcspService;
  /** What the routes and the listeners' fast path (api/routes/ocsp.ts ocspFastPath) answer with. */
  readonly routes: OcspRouteDeps;
  readonly publicRouter: (openapi: OpenApiDocument) => Router;
}

/**
 * @param signers the checked CA signers by generation (a live map), for renewing responder certificates
 * @param access one access mode for CRL and OCSP (docs/api.md §3): `crl.access` in the configuration
 */
export async function buildOcsp(deps: OcspDeps, signers: ReadonlyMap<CaId, Signer>, access: RevocationAccessMode): Promise<OcspFeature> {
  const { db, clock, random, hsm } = deps;
  const store = new KnexOcspStore(db);
  const ocsp = await OcspService.create(
    {
      clock,
      random,
      generations: deps.stores.caGenerations,
      transactions: db,
      audit: deps.stores.audit,
      outbox: deps.stores.outbox,
      responses: store,
      statuses: store,
      accessLog: store,
      signerFor: (uri, alg) => hsm.signer(uri, alg),
      renewal: { keys: hsm, caSigner: async (id) => signers.get(id) },
      metrics: deps.metrics.ocsp,
      log: deps.logger,
    },
    {
      liveConcurrency: deps.config.hsm.poolSize,
      renewal: { renewBeforeDays: 30, validityDays: deps.config.ca.ocspResponderValidityDays, keySpec: deps.config.hsm.serviceKeySpec },
      ...(deps.config.ocsp ? { presigner: { demandWindowMs: deps.config.ocsp.demandWindowMs, refreshPerSecond: deps.config.ocsp.refreshPerSecond } } : {}),
      // Status after expiry (docs/ocsp.md): answers until the cutoff, with archiveCutoff.
      ...(deps.config.revocationInfo ? { afterExpiry: new StatusAfterExpiry(deps.config.revocationInfo) } : {}),
    },
  );
  const routes: OcspRouteDeps = {
    responder: ocsp.responder,
    recorder: ocsp.accessRecorder,
    clock,
    ...(deps.config.ocsp ? { maxCacheSeconds: deps.config.ocsp.maxCacheSeconds } : {}),
    access: { mode: access, parties: new CachedRelyingPartyAuthenticator(deps.relyingParties, clock) },
  };
  return { ocsp, routes, publicRouter: ocspRoutes(routes) };
}
