import type Router from "@koa/router";
import type { Middleware } from "koa";
import type { Clock } from "../../ca/ports.js";
import { minorCorrectionPredicates } from "../../ca/revocation/revocation-policy.js";
import { defaultSafetyValveLimits, type SafetyValveLimits } from "../../ca/revocation/revocation-safety-valve.js";
import { RevocationService } from "../../ca/revocation/revocation-service.js";
import type { OperatorRole } from "../../ca/operators/roles.js";
import type { AuditStore, CertificateStore } from "../../ca/stores.js";
import type { OutboxWriter } from "../../ca/revocation/outbox.js";
import type { Database } from "../../db/database.js";
import { isTransientDatabaseError, KnexResidentEventStore } from "../../db/resident-event-store.js";
import { KnexResidentMirrorStore } from "../../db/resident-mirror-store.js";
import { KnexResidentMunicipalityStore } from "../../db/resident-municipality-store.js";
import { KnexCertificateReleaseStore } from "../../db/revocation-release-store.js";
import { KnexRevocationWindowStore } from "../../db/revocation-window-store.js";
import { checkRevocationWindow, type RevocationWindowLimits } from "../../ca/revocation/revocation-window.js";
import { promEventMetrics } from "../../events/event-metrics.js";
import { NatsEventConsumer, type ConsumerLogger, type NatsConsumerOptions } from "../../events/nats-consumer.js";
import { ResidentEventProcessor } from "../../events/resident-event-processor.js";
import { DEFAULT_RESIDENT_HISTORY_RETENTION_YEARS, purgeResidentHistory, type PurgeReport } from "../../events/resident-history-purge.js";
import type { Metrics } from "../metrics.js";
import type { OpenApiDocument } from "../openapi.js";
import type { ApprovalEngine } from "../../ca/approvals/approval-engine.js";
import { eventsResumeExecutor, massRevocationExecutor, massRevocationRoutes } from "../mass-revocation.js";
import { residentEventRoutes } from "../routes/resident-events.js";
import { revocationRoutes } from "../routes/revocations.js";

/**
 * Composition of the revocation part (issue 4): the event processor over the knex stores, the manual
 * revocation service, their routes, the NATS consumer and the record-history purge. Called by the
 * composition root (api/main.ts buildHandlers/serve) and by the CLI (cli/main.ts `events`, through api/main.ts).
 */

export interface ResidentEventsConfig {
  readonly limits?: SafetyValveLimits;
  /** docs/domain.md §3 [U]: which MINOR_CORRECTION events keep the signing certificate. */
  readonly minorCorrection?: keyof typeof minorCorrectionPredicates;
  /** Events per transaction (default 1,000). */
  readonly batchSize?: number;
  /** Superseded resident-record versions are erased after this many years (default 5). */
  readonly historyRetentionYears?: number;
  /** NATS stream, durable consumer and batching, beyond the server URL. */
  readonly nats?: Omit<NatsConsumerOptions, "servers">;
  /** Manual revocations per operator without approval (default: 10 per hour; ca/revocation/revocation-window.ts). */
  readonly revocationWindow?: RevocationWindowLimits;
}

export interface ResidentEventsHost {
  readonly db: Database;
  readonly clock: Clock;
  readonly metrics: Pick<Metrics, "registry">;
  readonly stores: {
    readonly certificates: Pick<CertificateStore, "get" | "revoke" | "findLiveByResident">;
    readonly audit: AuditStore;
    readonly outbox: OutboxWriter;
  };
}

export interface ResidentEvents {
  readonly processor: ResidentEventProcessor;
  readonly revocation: RevocationService;
  /** The `/v1` routers: resident events, the events admin routes, revocation and hold. */
  routers(guards: { requireOperator: (...roles: OperatorRole[]) => Middleware; requireActiveTerminal: Middleware }): Array<(openapi: OpenApiDocument) => Router>;
  /** A consumer of the RESIDENT_EVENTS stream (start it in `serve` when NATS is configured). */
  natsConsumer(servers: string, logger: ConsumerLogger): NatsEventConsumer;
  purgeHistory(actor: string, options: { dryRun: boolean }): Promise<PurgeReport>;
}

export function buildResidentEvents(host: ResidentEventsHost, config: ResidentEventsConfig = {}): ResidentEvents {
  const { db, clock } = host;
  const events = new KnexResidentEventStore(db);
  const mirror = new KnexResidentMirrorStore(db);
  const processor = new ResidentEventProcessor(
    { clock, transactions: db, events, valve: events, revocations: events, mirror, audit: host.stores.audit, metrics: promEventMetrics(host.metrics.registry), isTransient: isTransientDatabaseError },
    { limits: config.limits ?? defaultSafetyValveLimits, isMinor: minorCorrectionPredicates[config.minorCorrection ?? "certified-fields-unchanged"], ...(config.batchSize ? { batchSize: config.batchSize } : {}) },
  );
  const revocation = new RevocationService({
    clock,
    transactions: db,
    certificates: host.stores.certificates,
    audit: host.stores.audit,
    outbox: host.stores.outbox,
    residents: new KnexResidentMunicipalityStore(db),
    window: new KnexRevocationWindowStore(db),
    releases: new KnexCertificateReleaseStore(db),
    ...(config.revocationWindow ? { windowLimits: checkRevocationWindow(config.revocationWindow) } : {}),
  });
  return {
    processor,
    revocation,
    routers: (guards) => [residentEventRoutes({ processor, requireOperator: guards.requireOperator }), revocationRoutes({ revocation, ...guards })],
    natsConsumer: (servers, logger) => new NatsEventConsumer(processor, { ...(config.nats ?? {}), servers }, logger),
    purgeHistory: (actor, options) =>
      purgeResidentHistory({ clock, transactions: db, mirror, audit: host.stores.audit }, actor, { dryRun: options.dryRun, retentionYears: config.historyRetentionYears ?? DEFAULT_RESIDENT_HISTORY_RETENTION_YEARS }),
  };
}

/**
 * The four-eyes part of revocation (api/mass-revocation.ts): registers the mass-revocation and
 * safety-valve-resume executors with the approval engine, and returns the mass-revocation route.
 */
export function wireRevocationApprovals(
  events: Pick<ResidentEvents, "processor" | "revocation">,
  deps: { readonly approvals: ApprovalEngine; readonly db: Database; readonly clock: Clock; readonly requireOperator: (...roles: OperatorRole[]) => Middleware },
): (openapi: OpenApiDocument) => Router {
  deps.approvals.register(massRevocationExecutor(events.revocation)).register(eventsResumeExecutor(events.processor));
  return massRevocationRoutes({ approvals: deps.approvals, revocation: events.revocation, window: new KnexRevocationWindowStore(deps.db), clock: deps.clock, requireOperator: deps.requireOperator });
}
