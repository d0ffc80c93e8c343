import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CaError } from "../ca/errors.js";
import { assertTerminalsHaveMunicipality } from "../ca/operators/terminal-access.js";
import type { LeaseKeeper } from "../ca/cluster/lease-keeper.js";
import type { IssuanceService } from "../ca/issuance/issuance-service.js";
import type { PhoneIssuanceService } from "../ca/phone/phone-issuance-service.js";
import type { OperatorAuth } from "../ca/operators/operator-auth.js";
import type { CrlAccessRecord } from "../ca/revocation/crl-ports.js";
import type { CrlService } from "../crl/crl-service.js";
import { checkPartitionCounts } from "../crl/crl-settings.js";
import type { AccessRecorder } from "../ocsp/access-recorder.js";
import type { OcspService } from "../ocsp/ocsp-service.js";
import { createApp, createMetricsApp } from "./app.js";
import { loadHolidayCalendar } from "./holiday-calendar.js";
import { listen, type Listeners } from "./listeners.js";
import { clusterReadinessChecks } from "./routes/health.js";
import { adminDashboardRoutes } from "./routes/admin-dashboard.js";
import { knexDashboardSource } from "../db/dashboard-source.js";
import { consoleRoutes } from "./routes/console.js";
import { ocspFastPath, type OcspRouteDeps } from "./routes/ocsp.js";
import { buildAdminControls, type AdminControls } from "./wiring/admin-controls.js";
import { wireCaGenerationApprovals } from "./wiring/ca-generations.js";
import { buildCrl } from "./wiring/crl.js";
import { buildIssuance } from "./wiring/issuance.js";
import { buildHolder, phoneReconcilerJob } from "./wiring/holder.js";
import { buildLeaseKeeper, singletonJobs } from "./wiring/job-leases.js";
import { LiveCaGenerations } from "./wiring/live-ca-generations.js";
import { buildOcsp } from "./wiring/ocsp.js";
import { buildOperatorAuth } from "./wiring/operator-auth.js";
import { buildRelyingPartyQueries } from "./wiring/relying-party-queries.js";
import { buildResidentEvents, wireRevocationApprovals, type ResidentEvents } from "./wiring/resident-events.js";
import type { Service } from "./wiring/service.js";

/**
 * The composition root: opens the service (api/wiring/service.ts), then calls each feature's wiring in
 * api/wiring/ in order — operator auth, CA generations, issuance, admin controls, resident events and
 * revocation, CRL, OCSP — each given only what it needs, and serves the app they make. Nothing in api/
 * imports this file; the CLI (cli/) imports from api/ only this file and api/config.ts, so what it uses
 * of the wiring is re-exported here.
 */

export { openService, systemRandom, type Service, type ServiceStores } from "./wiring/service.js";
// docs/design.md invariant 5: the CLI and tests check the CA keys the way start-up does.
export { checkCaKeys } from "./wiring/live-ca-generations.js";
// The key ceremony (cli/ceremony.ts) and `ca generation new` (cli/main.ts).
export { ceremonySerial, createNextCaGeneration, ensureCaGeneration, tokenKey } from "./wiring/ca-generations.js";
// `events …` commands (cli/events-commands.ts).
export { buildResidentEvents, type ResidentEvents } from "./wiring/resident-events.js";
// The body of a CRL run, printed by `crl run` as the admin route answers it (cli/crl-commands.ts).
export { runReportBody } from "./routes/crl.js";
// Several service processes: the metrics of all workers (cli/main.ts, cli/workers.ts).
export { serveClusterMetrics, workerMetricsSource } from "./cluster-metrics.js";

/** How often every process looks for CA generations made elsewhere (api/wiring/live-ca-generations.ts). */
const GENERATION_POLL_MS = 30_000;

/** The request-handling services, wired once from the opened Service. */
export interface Handlers {
  readonly auth: OperatorAuth;
  readonly issuance: IssuanceService;
  readonly admin: AdminControls;
  readonly crl: CrlService;
  /** CRL reads of relying parties, buffered for the batched writes to crl_access_log. */
  readonly crlReads: AccessRecorder<CrlAccessRecord>;
  readonly ocsp: OcspService;
  readonly ocspRoutes: OcspRouteDeps;
  readonly events: ResidentEvents;
  /** The CA generations in use, refreshed while running. */
  readonly generations: LiveCaGenerations;
  /** Smartphone certificates (docs/phone.md): its reconciler runs with the singleton jobs. */
  readonly phoneIssuance: PhoneIssuanceService;
}

type Routers = NonNullable<Parameters<typeof createApp>[0]["v1Routers"]>;

/** Wires every feature on the opened service: the handlers, and the routers of both listeners. */
export async function buildHandlers(service: Service): Promise<{ handlers: Handlers; v1Routers: Routers; publicRouters: Routers }> {
  // Issue 12 §1: a terminal is enrolled for exactly one municipality; refuse to start with one that is not.
  assertTerminalsHaveMunicipality(await service.stores.terminals.list());
  // The CA generations in use, each key checked; a generation made while running joins them.
  const live = await LiveCaGenerations.load(service);
  // docs/domain.md §4: a generation's partition count never changes; refuse a configuration that would.
  checkPartitionCounts(live.current, service.config.ca.partitions);
  const holidays = loadHolidayCalendar(service.config.holidaysFile);
  // Issue 12 items 2 and 4: throttled logins, bounded hashing, the admin/feed certificate register; the route guards.
  const operatorAuth = buildOperatorAuth(service, { holidays });
  const { auth, guards } = operatorAuth;
  const issuance = buildIssuance(service, live.authorities);
  // Admin API and operating controls (docs/api.md §7): finds or generates the audit checkpoint key in the HSM.
  // Issue 16 items 3–4: relying-party queries, the consent register, and their disclosure sections.
  const rpQueries = buildRelyingPartyQueries(service);
  const admin = await buildAdminControls(service, auth, { holidays, disclosureSources: rpQueries.disclosureSources, retention: service.config.retention });
  const caGenerationRouter = wireCaGenerationApprovals(service, admin.approvals, { afterCreate: () => live.refresh(), requireOperator: guards.requireOperator });
  // Resident change events (HTTP batch, NATS JetStream, file import), manual revocation and hold.
  const events = buildResidentEvents(service);
  // Issue 16 item 1 (docs/phone.md): the holder's card-signed online routes, relayed by a holder portal.
  const holder = buildHolder(service, live.authorities, events.revocation);
  const massRevocationRouter = wireRevocationApprovals(events, { approvals: admin.approvals, db: service.db, clock: service.clock, requireOperator: guards.requireOperator });
  const crl = buildCrl(service, live.current, live.signers);
  const ocsp = await buildOcsp(service, live.signers, crl.crl.settings.access);
  // A new generation: its CRL partitions and first CRLs, its OCSP responder (issuance uses it through `authorities`).
  live.onAdded(async (ca, signer) => {
    await crl.crl.addGeneration(ca, signer);
    await ocsp.ocsp.responders.reload();
  });
  return {
    handlers: { auth, issuance: issuance.issuance, admin, crl: crl.crl, crlReads: crl.reads, ocsp: ocsp.ocsp, ocspRoutes: ocsp.routes, events, generations: live, phoneIssuance: holder.phoneIssuance },
    // Issue 17: the operator console's static files (HTTPS, registered admin workstation; docs/console.md).
    publicRouters: [ocsp.publicRouter, crl.publicRouter, consoleRoutes({ clients: service.stores.clientCertificates, terminals: service.stores.terminals, audit: { store: service.stores.audit, clock: service.clock } })],
    v1Routers: [
      // First: every /v1 request of an admin, feed or terminal certificate must match its register.
      operatorAuth.guardRouter,
      ...events.routers(guards),
      massRevocationRouter,
      caGenerationRouter,
      crl.adminRouter(guards.requireOperator),
      ...admin.v1Routers,
      adminDashboardRoutes({ source: knexDashboardSource(() => service.db.knex), clock: service.clock, requireOperator: guards.requireOperator, presignedLookups: () => service.metrics.presignedLookups() }),
      ...operatorAuth.v1Routers,
      issuance.router(guards),
      holder.router,
      ...rpQueries.v1Routers,
    ],
  };
}

/** What `serve` runs: the listeners, and which singleton jobs this process holds now. */
export interface Serving extends Listeners {
  readonly leases: Pick<LeaseKeeper, "holder" | "held">;
}

/**
 * Serves both listeners with the app wired to the service. Every process is a node like any other
 * (docs/cluster.md): it runs what every node runs, and each singleton background job under its
 * lease in the database, so several processes or machines on one database run each job once.
 */
export async function serve(service: Service): Promise<Serving> {
  const { config, logger, metrics } = service;
  const { handlers, v1Routers, publicRouters } = await buildHandlers(service);
  const tlsDir = join(config.varDir, "tls");
  const [cert, key, clientCa] = await Promise.all([
    readFile(join(tlsDir, "server.pem"), "utf8"),
    readFile(join(tlsDir, "server.key"), "utf8"),
    readFile(join(tlsDir, "service-ca.pem"), "utf8"),
  ]).catch(() => {
    throw new CaError("unavailable", `TLS material missing under ${tlsDir}: run \`npm run cli -- init\``);
  });
  const app = createApp({
    logger,
    metrics,
    metricsToken: config.metrics.token,
    caGenerations: service.stores.caGenerations,
    audit: { store: service.stores.audit, clock: service.clock },
    readiness: [
      { name: "database", check: () => service.db.ping() },
      {
        name: "hsm",
        check: async () => {
          const h = await service.hsm.health();
          if (!h.ok) throw new CaError("unavailable", "HSM not ready");
        },
      },
      // Issue 14 item 3c: a committed write, a signature, OCSP not lagging (api/routes/health.ts).
      ...clusterReadinessChecks({ db: service.db, signers: handlers.generations.signers, ocspMaxLagMs: config.readiness.ocspMaxLagMs }),
    ],
    v1Routers,
    publicRouters,
  });
  // The singleton jobs, each in the one process holding its lease: the reconciler (docs/design.md
  // invariant 1), CRL scheduling and coverage, OCSP pre-signing and responder renewal, audit
  // checkpoints, approval expiry, anomaly polling (api/wiring/job-leases.ts).
  const keeper = buildLeaseKeeper(service, [...singletonJobs(handlers, logger), phoneReconcilerJob(handlers.phoneIssuance, logger)]);
  keeper.start();
  // Every process: the durable JetStream consumer, when NATS is configured (NATS_URL; docs/api.md §5):
  // JetStream shares its messages among the processes pulling it.
  const consumer = config.natsUrl ? handlers.events.natsConsumer(config.natsUrl, logger) : undefined;
  await consumer?.start();
  // Every process: following the OCSP responses others sign, the batched access logs, CA generations made elsewhere.
  handlers.ocsp.start({ singletons: false });
  handlers.crlReads.start();
  handlers.generations.start(GENERATION_POLL_MS);
  const listeners = await listen(app, {
    http: config.http,
    https: config.https,
    tls: { cert, key, clientCa },
    wrap: (next) => ocspFastPath(handlers.ocspRoutes, next, (status) => metrics.countOcspGet(status)),
    metrics: config.metrics.listen ? { ...config.metrics.listen, app: createMetricsApp({ logger, metrics, token: config.metrics.token }) } : null,
  }).catch(async (e: unknown) => {
    // Not serving (e.g. a port in use): give the leases taken meanwhile back at once.
    await keeper.stop();
    await consumer?.stop();
    await handlers.ocsp.stop();
    await handlers.crlReads.stop();
    handlers.generations.stop();
    throw e;
  });
  return {
    ...listeners,
    leases: keeper,
    close: async () => {
      // First: the singleton jobs stop and their leases are released, so another node takes them at once.
      await keeper.stop();
      await consumer?.stop();
      await handlers.ocsp.stop();
      await listeners.close();
      await handlers.crlReads.stop();
      handlers.generations.stop();
    },
  };
}
