import type Router from "@koa/router";
import type { Middleware } from "koa";
import { CaError } from "../../ca/errors.js";
import type { OperatorRole } from "../../ca/operators/roles.js";
import type { Signer } from "../../ca/ports.js";
import { StatusAfterExpiry } from "../../ca/revocation/status-after-expiry.js";
import type { CrlAccessRecord } from "../../ca/revocation/crl-ports.js";
import type { CaGeneration, CaId } from "../../ca/types.js";
import { createCrlService, type CrlService } from "../../crl/crl-service.js";
import { KnexCrlAccessLog } from "../../db/crl-access-log.js";
import { KnexCrlStore } from "../../db/crl-store.js";
import { KnexCertificateReleaseStore } from "../../db/revocation-release-store.js";
import { AccessRecorder } from "../../ocsp/access-recorder.js";
import type { Config } from "../config.js";
import type { OpenApiDocument } from "../openapi.js";
import { crlAdminRoutes, crlRoutes, type CrlRead } from "../routes/crl.js";
import type { ServiceWith } from "./service.js";

/**
 * CRLs (docs/api.md §3, docs/domain.md §4): the partitioned CRLs of every CA generation issued by the scheduler
 * (crl/), the public download routes, the admin "issue now" route, and the batched log of relying
 * parties' reads. The partition of a certificate is chosen at issuance (ca/issuance/serial.ts).
 */

/** What the CRL part needs of the opened service. */
export type CrlDeps = ServiceWith<"db" | "clock" | "logger" | "metrics" | "relyingParties", "outbox" | "audit"> & {
  readonly config: Pick<Config, "publicBaseUrl" | "crl"> & Partial<Pick<Config, "revocationInfo">>;
};

export interface CrlFeature {
  readonly crl: CrlService;
  /** CRL reads of relying parties, buffered for the batched writes to crl_access_log. */
  readonly reads: AccessRecorder<CrlAccessRecord>;
  /** `GET /crl/…` (public listener). */
  readonly publicRouter: (openapi: OpenApiDocument) => Router;
  /** `POST /v1/admin/crl/…/run` (mTLS listener). */
  adminRouter(requireOperator: (...roles: OperatorRole[]) => Middleware): (openapi: OpenApiDocument) => Router;
}

/**
 * @param generations the CA generations at start-up; `signers` their checked signers (a live map:
 * generations added while running are added to it by api/wiring/live-ca-generations.ts).
 */
export function buildCrl(deps: CrlDeps, generations: readonly CaGeneration[], signers: ReadonlyMap<CaId, Signer>): CrlFeature {
  const { db, clock, logger } = deps;
  const store = new KnexCrlStore(db);
  const crl = createCrlService({
    store,
    outbox: deps.stores.outbox,
    transactions: db,
    generations,
    signers,
    crlBaseUrl: deps.config.publicBaseUrl,
    clock,
    settings: deps.config.crl,
    metrics: deps.metrics.crl,
    logger,
    // Status after expiry (docs/crl.md): revoked entries kept until the cutoff, with expiredCertsOnCRL.
    ...(deps.config.revocationInfo ? { afterExpiry: new StatusAfterExpiry(deps.config.revocationInfo) } : {}),
    // Lifted phone holds: removeFromCRL entries on delta CRLs (crl/released-entries.ts).
    released: new KnexCertificateReleaseStore(db),
  });
  // CRL reads of identified relying parties (docs/api.md §3), written in batches like OCSP answers; one
  // that cannot be recorded (the buffer is full: the database has been failing) is not answered.
  const reads = new AccessRecorder<CrlAccessRecord>(new KnexCrlAccessLog(db), logger, { name: "CRL access log" });
  const recordRead = (read: CrlRead): void => {
    if (read.reader.partyId === null) return; // public mode, no credential: nobody to record
    const record = { at: read.at, party: read.reader.partyId, caId: read.caId, partition: read.partition, kind: read.kind, number: read.number };
    if (!reads.record([record])) throw new CaError("unavailable", "CRL reads cannot be recorded at the moment; retry later");
  };
  return {
    crl,
    reads,
    publicRouter: crlRoutes({ crls: store, clock, access: crl.settings.access, relyingParties: deps.relyingParties, maxCacheSeconds: crl.settings.maxCacheSeconds, recordRead }),
    adminRouter: (requireOperator) => crlAdminRoutes({ scheduler: crl.scheduler, requireOperator, audit: deps.stores.audit, clock }),
  };
}
