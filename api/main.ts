import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { webcrypto } from "node:crypto";
import * as pkijs from "pkijs";
import { CaError } from "../ca/errors.js";
import { systemClock, type Clock, type Random } from "../ca/ports.js";
import { openDatabase, type Database } from "../db/database.js";
import { migrateLatest } from "../db/migrate.js";
import { KnexCaGenerationStore } from "../db/ca-generation-store.js";
import { KnexCertificateStore } from "../db/certificate-store.js";
import { KnexAuditStore } from "../db/audit-store.js";
import { KnexIssuanceStore, KnexResidentStore } from "../db/issuance-store.js";
import { KnexOutboxStore } from "../db/outbox-store.js";
import { KnexOperatorStore } from "../db/operator-store.js";
import { KnexOperatorSessionStore } from "../db/operator-session-store.js";
import { KnexTerminalStore } from "../db/terminal-store.js";
import { KnexClientCertificateStore } from "../db/client-certificate-store.js";
import { clientRegisterGuardRouter } from "./client-register-guard.js";
import { adminClientCertificateRoutes } from "./routes/admin-client-certificates.js";
import { buildOperatorAuth } from "./operator-auth-wiring.js";
import type { OperatorAuth } from "../ca/operators/operator-auth.js";
import { KnexRelyingPartyStore } from "../db/relying-party-store.js";
import { RelyingPartyRegistry } from "../ca/relying-parties/relying-party.js";
import { IssuanceService } from "../ca/issuance/issuance-service.js";
import { CertificateLookup } from "../ca/access/certificate-lookup.js";
import { assertTerminalsHaveMunicipality } from "../ca/operators/terminal-access.js";
import { KnexResidentMunicipalityStore } from "../db/resident-municipality-store.js";
import { KnexRevocationWindowStore } from "../db/revocation-window-store.js";
import { createAliasFormatter } from "../ca/residents/alias-format.js";
import type { ServiceCaMaterial } from "../ca/operators/terminal-registry.js";
import { defaultAlgorithm } from "../ca/profiles/algorithms.js";
import { fromPem } from "../ca/x509/pem.js";
import { existsSync } from "node:fs";
import { LiveCaGenerations } from "./live-ca-generations.js";
import { loadHolidayCalendar } from "./holiday-calendar.js";
import { requireActiveTerminal, requireOperator } from "./operator-session.js";
import { sessionRoutes } from "./routes/sessions.js";
import { issuanceRoutes } from "./routes/issuances.js";
import { buildAdminControls, type AdminControls } from "./routes/admin-controls.js";
import { KnexCrlStore } from "../db/crl-store.js";
import { KnexCrlAccessLog } from "../db/crl-access-log.js";
import { AccessRecorder } from "../ocsp/access-recorder.js";
import type { CrlAccessRecord } from "../ca/revocation/crl-ports.js";
import { createCrlService, type CrlService } from "../crl/crl-service.js";
import { checkPartitionCounts } from "../crl/crl-settings.js";
import { crlAdminRoutes, crlRoutes, type CrlRead } from "./routes/crl.js";
import { KnexOcspStore } from "../db/ocsp-store.js";
import { OcspService } from "../ocsp/ocsp-service.js";
import { CachedRelyingPartyAuthenticator } from "../ocsp/relying-party-cache.js";
import { ocspFastPath, ocspRoutes, type OcspRouteDeps } from "./routes/ocsp.js";
import { buildResidentEvents, type ResidentEvents } from "./resident-events-wiring.js";
import { caGenerationExecutor } from "./ca-generations.js";
import { adminCaGenerationRoutes } from "./routes/admin-ca-generations.js";
import { eventsResumeExecutor, massRevocationExecutor, massRevocationRoutes } from "./mass-revocation.js";
import { Pkcs11Hsm } from "../hsm/pkcs11-hsm.js";
import { createApp, createMetricsApp } from "./app.js";
import type { Config } from "./config.js";
import { listen, type Listeners } from "./listeners.js";
import { createLogger, type Logger } from "./logger.js";
import { Metrics } from "./metrics.js";
import { randomBytes } from "node:crypto";

/**
 * The composition root: the one place that builds adapters from configuration and wires them into the
 * core and the HTTP layer. Everything is created per service instance; nothing is a module global.
 */
export interface Service {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly db: Database;
  readonly hsm: Pkcs11Hsm;
  readonly clock: Clock;
  readonly random: Random;
  readonly crypto: pkijs.CryptoEngine;
  readonly stores: {
    readonly caGenerations: KnexCaGenerationStore;
    readonly certificates: KnexCertificateStore;
    readonly audit: KnexAuditStore;
    readonly issuances: KnexIssuanceStore;
    readonly residents: KnexResidentStore;
    readonly outbox: KnexOutboxStore;
    readonly operators: KnexOperatorStore;
    readonly operatorSessions: KnexOperatorSessionStore;
    readonly terminals: KnexTerminalStore;
    readonly relyingParties: KnexRelyingPartyStore;
    /** Admin-workstation and feed client certificates (issue 12 item 2). */
    readonly clientCertificates: KnexClientCertificateStore;
  };
  /** Registered relying parties (CRL/OCSP access in `registered` mode). */
  readonly relyingParties: RelyingPartyRegistry;
  /** The internal service CA (key in the token, certificate under var/tls); throws before `init` made it. */
  readonly serviceCa: ServiceCaMaterial;
  /** Called by the ceremony once it made or found the service CA. */
  setServiceCa(material: ServiceCaMaterial): void;
  close(): Promise<void>;
}

export const systemRandom: Random = { bytes: (n) => new Uint8Array(randomBytes(n)) };

/** Opens the database (migrated), the HSM and the stores. Used by `serve`, `init` and the other CLI commands. */
export async function openService(config: Config, options: { logger?: Logger; clock?: Clock } = {}): Promise<Service> {
  const logger = options.logger ?? createLogger(config.log.level);
  const metrics = new Metrics();
  // SoftHSM reads its configuration from SOFTHSM2_CONF when the module is initialised.
  if (config.hsm.softhsmConf) process.env.SOFTHSM2_CONF = config.hsm.softhsmConf;
  const db = await openDatabase(config.database.url ? { url: config.database.url } : { dataDir: config.database.dataDir });
  try {
    await migrateLatest(db);
  } catch (e) {
    await db.close();
    throw e;
  }
  let hsm: Pkcs11Hsm;
  try {
    hsm = await Pkcs11Hsm.open({ modulePath: config.hsm.modulePath, tokenLabel: config.hsm.tokenLabel, pin: config.hsm.pin, poolSize: config.hsm.poolSize, metrics: metrics.hsm });
  } catch (e) {
    await db.close();
    throw e;
  }
  // pkijs's crypto engine is chosen here, once, and passed where pkijs verifies (never its global default).
  const crypto = new pkijs.CryptoEngine({ name: "node-webcrypto", crypto: webcrypto as unknown as Crypto });
  const rpStore = new KnexRelyingPartyStore(db);
  const auditStore = new KnexAuditStore(db);
  const serviceCaLabel = "service-ca";
  let serviceCa: ServiceCaMaterial | undefined;
  const serviceCaFile = join(config.varDir, "tls", "service-ca.pem");
  const serviceCaKey = await hsm.findKey(serviceCaLabel);
  if (serviceCaKey && existsSync(serviceCaFile)) {
    const spec = { type: "ec", curve: "P-256" } as const;
    serviceCa = { signer: await hsm.signer(serviceCaKey.uri, defaultAlgorithm(spec)), certificate: fromPem(await readFile(serviceCaFile, "utf8"), "CERTIFICATE") };
  }
  return {
    get serviceCa(): ServiceCaMaterial {
      if (!serviceCa) throw new CaError("unavailable", "the service CA does not exist yet: run `npm run cli -- init`");
      return serviceCa;
    },
    setServiceCa: (m) => {
      serviceCa = m;
    },
    config,
    logger,
    metrics,
    db,
    hsm,
    clock: options.clock ?? systemClock,
    random: systemRandom,
    crypto,
    stores: {
      caGenerations: new KnexCaGenerationStore(db),
      certificates: new KnexCertificateStore(db),
      audit: auditStore,
      issuances: new KnexIssuanceStore(db),
      residents: new KnexResidentStore(db),
      outbox: new KnexOutboxStore(db),
      operators: new KnexOperatorStore(db),
      operatorSessions: new KnexOperatorSessionStore(db),
      terminals: new KnexTerminalStore(db),
      relyingParties: rpStore,
      clientCertificates: new KnexClientCertificateStore(db),
    },
    relyingParties: new RelyingPartyRegistry({ store: rpStore, audit: auditStore, transactions: db, clock: options.clock ?? systemClock, random: systemRandom }),
    close: async () => {
      await hsm.close();
      await db.close();
    },
  };
}

// DESIGN invariant 5: the CLI and tests check the CA keys the way start-up does.
export { checkCaKeys } from "./live-ca-generations.js";

/** How often every process looks for CA generations made elsewhere (api/live-ca-generations.ts). */
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
}

type Routers = NonNullable<Parameters<typeof createApp>[0]["v1Routers"]>;

export async function buildHandlers(service: Service): Promise<{ handlers: Handlers; v1Routers: Routers; publicRouters: Routers }> {
  // Issue 12 §1: a terminal is enrolled for exactly one municipality; refuse to start with one that is not.
  assertTerminalsHaveMunicipality(await service.stores.terminals.list());
  // The CA generations in use, each key checked; a generation made while running joins them.
  const live = await LiveCaGenerations.load(service);
  const { signers, current: generations, authorities } = live;
  // DOMAIN §4: a generation's partition count never changes; refuse a configuration that would.
  checkPartitionCounts(generations, service.config.ca.partitions);
  const holidays = loadHolidayCalendar(service.config.holidaysFile);
  const { stores, clock, random, db } = service;
  // Issue 12 items 2 and 4: throttled logins, bounded hashing, the admin/feed certificate register.
  const { auth, clientRegister } = buildOperatorAuth(service);
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
    residentMunicipalities: new KnexResidentMunicipalityStore(db),
  });
  const activeTerminal = requireActiveTerminal(stores.terminals, clock, holidays);
  // Admin API and operating controls (CONTRACT §7): finds or generates the audit checkpoint key in the HSM.
  const admin = await buildAdminControls(service, auth, { holidays });
  admin.approvals.register(caGenerationExecutor(service, { afterCreate: () => live.refresh() }));
  // Resident change events (HTTP batch, NATS JetStream, file import), manual revocation and hold.
  const events = buildResidentEvents(service);
  admin.approvals.register(massRevocationExecutor(events.revocation)).register(eventsResumeExecutor(events.processor));
  const crlStore = new KnexCrlStore(db);
  const crl = createCrlService({
    store: crlStore,
    outbox: stores.outbox,
    transactions: db,
    generations,
    signers,
    crlBaseUrl: service.config.publicBaseUrl,
    clock,
    settings: service.config.crl,
    metrics: service.metrics.crl,
    logger: service.logger,
  });
  const ocspStore = new KnexOcspStore(db);
  const ocsp = await OcspService.create(
    {
      clock,
      random,
      generations: stores.caGenerations,
      transactions: db,
      audit: stores.audit,
      outbox: stores.outbox,
      responses: ocspStore,
      statuses: ocspStore,
      accessLog: ocspStore,
      signerFor: (uri, alg) => service.hsm.signer(uri, alg),
      renewal: { keys: service.hsm, caSigner: async (id) => signers.get(id) },
      metrics: service.metrics.ocsp,
      log: service.logger,
    },
    { liveConcurrency: service.config.hsm.poolSize, renewal: { renewBeforeDays: 30, validityDays: service.config.ca.ocspResponderValidityDays } },
  );
  // One access mode for CRL and OCSP (CONTRACT §3): `crl.access` in the configuration.
  const ocspDeps: OcspRouteDeps = {
    responder: ocsp.responder,
    recorder: ocsp.accessRecorder,
    clock,
    access: { mode: crl.settings.access, parties: new CachedRelyingPartyAuthenticator(service.relyingParties, clock) },
  };
  // CRL reads of identified relying parties (CONTRACT §3), written in batches like OCSP answers; one
  // that cannot be recorded (the buffer is full: the database has been failing) is not answered.
  const crlReads = new AccessRecorder<CrlAccessRecord>(new KnexCrlAccessLog(db), service.logger, { name: "CRL access log" });
  const recordRead = (read: CrlRead): void => {
    if (read.reader.partyId === null) return; // public mode, no credential: nobody to record
    const record = { at: read.at, party: read.reader.partyId, caId: read.caId, partition: read.partition, kind: read.kind, number: read.number };
    if (!crlReads.record([record])) throw new CaError("unavailable", "CRL reads cannot be recorded at the moment; retry later");
  };
  // A new generation: its CRL partitions and first CRLs, its OCSP responder (issuance uses it through `authorities`).
  live.onAdded(async (ca, signer) => {
    await crl.addGeneration(ca, signer);
    await ocsp.responders.reload();
  });
  return {
    handlers: { auth, issuance, admin, crl, crlReads, ocsp, ocspRoutes: ocspDeps, events, generations: live },
    publicRouters: [
      ocspRoutes(ocspDeps),
      crlRoutes({ crls: crlStore, clock, access: crl.settings.access, relyingParties: service.relyingParties, maxCacheSeconds: crl.settings.maxCacheSeconds, recordRead }),
    ],
    v1Routers: [
      // First: every /v1 request of an admin, feed or terminal certificate must match its register.
      clientRegisterGuardRouter({ clients: stores.clientCertificates, terminals: stores.terminals, audit: { store: stores.audit, clock } }),
      ...events.routers({ requireOperator: (...roles) => requireOperator(auth, ...roles), requireActiveTerminal: activeTerminal }),
      massRevocationRoutes({ approvals: admin.approvals, revocation: events.revocation, window: new KnexRevocationWindowStore(db), clock, requireOperator: (...roles) => requireOperator(auth, ...roles) }),
      adminCaGenerationRoutes({ approvals: admin.approvals, requireOperator: (...roles) => requireOperator(auth, ...roles) }),
      crlAdminRoutes({ scheduler: crl.scheduler, requireOperator: (...roles) => requireOperator(auth, ...roles), audit: stores.audit, clock }),
      ...admin.v1Routers,
      sessionRoutes({ auth, terminals: stores.terminals, clients: stores.clientCertificates, clock, holidays, audit: { store: stores.audit, clock } }),
      adminClientCertificateRoutes({ register: clientRegister, requireOperator: (...roles) => requireOperator(auth, ...roles), serviceCaCertificate: () => service.serviceCa.certificate }),
      issuanceRoutes({
        issuance,
        lookup: new CertificateLookup({ certificates: stores.certificates, residents: new KnexResidentMunicipalityStore(db), audit: stores.audit, clock }),
        requireOperator: (...roles) => requireOperator(auth, ...roles),
        requireActiveTerminal: activeTerminal,
      }),
    ],
  };
}

export interface ServeOptions {
  /**
   * "leader" (the only process, or the first of several): the listeners and all background work —
   * the pending-issuance reconciler, audit checkpoints, approval expiry, anomaly polling, CRL
   * scheduling, the NATS consumer, OCSP pre-signing and renewal. "follower" (the other workers of
   * CA_WORKERS > 1): the listeners only, with the OCSP cache following what the leader signs.
   */
  readonly role?: "leader" | "follower";
}

/** Serves both listeners with the app wired to the service; the leader runs the background work. */
export async function serve(service: Service, options: ServeOptions = {}): Promise<Listeners> {
  const role = options.role ?? "leader";
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
    ],
    v1Routers,
    publicRouters,
  });
  // DESIGN invariant 1: pending rows left by a crash are completed (or marked failed) at start-up and on a timer.
  const reconcile = async (): Promise<void> => {
    try {
      const r = await handlers.issuance.reconcile();
      if (r.completed + r.failed > 0) logger.warn(r, "reconciled pending issuances");
    } catch (e) {
      logger.error({ err: (e as Error).name }, "reconciler failed");
    }
  };
  const leader = role === "leader";
  if (leader) await reconcile();
  const timer = leader ? setInterval(() => void reconcile(), 60_000) : undefined;
  timer?.unref();
  // Hourly signed audit checkpoints, approval expiry, anomaly polling.
  const stopAdmin = leader ? handlers.admin.start() : () => undefined;
  // CRLs: re-issued before half their validity and soon after a change; coverage checked hourly.
  if (leader) handlers.crl.scheduler.start();
  const stopCoverage = leader ? handlers.crl.startCoverageChecks(3600) : () => undefined;
  // CONTRACT §5: the durable JetStream consumer, when NATS is configured (NATS_URL).
  const consumer = leader && config.natsUrl ? handlers.events.natsConsumer(config.natsUrl, logger) : undefined;
  await consumer?.start();
  // OCSP: pre-signing from the outbox, refresh at half-life, responder renewal (leader); following
  // the responses the leader signs (followers); the batched access log (every process).
  handlers.ocsp.start(role);
  handlers.crlReads.start();
  handlers.generations.start(GENERATION_POLL_MS);
  const listeners = await listen(app, {
    http: config.http,
    https: config.https,
    tls: { cert, key, clientCa },
    wrap: (next) => ocspFastPath(handlers.ocspRoutes, next, (status) => metrics.countOcspGet(status)),
    metrics: config.metrics.listen ? { ...config.metrics.listen, app: createMetricsApp({ logger, metrics, token: config.metrics.token }) } : null,
  });
  return {
    ...listeners,
    close: async () => {
      await consumer?.stop();
      if (timer) clearInterval(timer);
      stopAdmin();
      stopCoverage();
      await handlers.crl.scheduler.stop();
      await handlers.ocsp.stop();
      await listeners.close();
      await handlers.crlReads.stop();
      handlers.generations.stop();
    },
  };
}
