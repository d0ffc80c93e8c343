import type Router from "@koa/router";
import { Counter } from "prom-client";
import { ApprovalEngine } from "../../ca/approvals/approval-engine.js";
import { IssuanceExport, issuanceExportExecutor } from "../../ca/approvals/approval-export.js";
import { operatorApprovalExecutors } from "../../ca/approvals/operator-approvals.js";
import { AuditCheckpointer } from "../../ca/audit/audit-checkpoint.js";
import { AUDIT_CHECKPOINT_KEY_LABEL, auditCheckpointSigner } from "../../ca/audit/audit-checkpoint-key.js";
import { advisoryLock } from "../../db/advisory-lock.js";
import { AuditVerifier } from "../../ca/audit/audit-verifier.js";
import type { LeaseTerm, SingletonJob } from "../../ca/cluster/lease-keeper.js";
import type { HolidayCalendar, OperatingSchedule } from "../../ca/operators/operating-hours.js";
import { OperatorAdmin } from "../../ca/operators/operator-admin.js";
import type { OperatorAuth } from "../../ca/operators/operator-auth.js";
import { ScryptPasswordHasher } from "../../ca/operators/password-hash.js";
import type { OperatorRole } from "../../ca/operators/roles.js";
import { TerminalRegistry, type ServiceCaMaterial } from "../../ca/operators/terminal-registry.js";
import { AnomalyDetector, AnomalyMonitor, type AnomalyThresholds } from "../../ca/records/anomaly.js";
import { DisclosureService, type DisclosureSource } from "../../ca/records/disclosure.js";
import { CertificateInquiry } from "../../ca/records/inquiry.js";
import { parseRetentionPeriods, RetentionService, retentionPurgeExecutor, type RetentionPeriods, type RetentionTask } from "../../ca/records/retention.js";
import { RelyingPartyEnrolment } from "../../ca/relying-parties/relying-party-enrolment.js";
import type { AuditEntry, AuditEntryInput } from "../../ca/types.js";
import { KnexApprovalStore } from "../../db/approval-store.js";
import { KnexAuditCheckpointStore } from "../../db/audit-checkpoint-store.js";
import { KnexAuditLogReader } from "../../db/audit-log-reader.js";
import { certificateLinksDisclosureSource, relyingPartyAccessDisclosureSource, residentEventsDisclosureSource } from "../../db/inquiry-disclosure-sources.js";
import { KnexInquirySource } from "../../db/inquiry-store.js";
import { KnexIssuanceExportSource } from "../../db/issuance-export-source.js";
import { standardRetentionTasks } from "../../db/retention-standard-tasks.js";
import type { OpenApiDocument } from "../openapi.js";
import { requireOperator } from "../operator-session.js";
import { adminControlRoutes } from "../routes/admin-controls.js";
import type { Service, ServiceWith } from "./service.js";

/**
 * The admin side (docs/api.md §7, docs/domain.md §6): operator administration, terminal and relying-party
 * enrolment, certificate inquiries, the four-eyes approval engine and the issuance export, the audit
 * chain's checkpoints and verification, retention, disclosure and anomaly monitoring. Builds the
 * services over the knex stores and hands them to the routes-only api/routes/admin-controls.ts.
 */

/** What the admin controls need of the opened service. */
export type AdminControlsDeps = ServiceWith<
  "db" | "hsm" | "clock" | "random" | "relyingParties" | "metrics" | "logger" | "serviceCa",
  "audit" | "terminals" | "operators" | "operatorSessions" | "relyingParties"
> & { readonly config: { readonly hsm: Pick<Service["config"]["hsm"], "serviceKeySpec"> } };

export interface AdminControlsOptions {
  readonly retention?: Partial<RetentionPeriods>;
  readonly anomalies?: Partial<AnomalyThresholds>;
  /** Operating hours the anomaly check measures logins against (default 08:30–17:15 JST, working days). */
  readonly schedule?: OperatingSchedule;
  readonly holidays?: HolidayCalendar;
  /** A periodic checkpoint at most this often (default 1 hour). */
  readonly checkpointIntervalMs?: number;
  /** More disclosure sections (e.g. CRL downloads, if a deployment records them per party). */
  readonly disclosureSources?: readonly DisclosureSource[];
  /** More retention tasks. */
  readonly retentionTasks?: readonly RetentionTask[];
}

export interface AdminControls {
  readonly operators: OperatorAdmin;
  readonly terminals: TerminalRegistry;
  readonly relyingParties: RelyingPartyEnrolment;
  readonly inquiry: CertificateInquiry;
  /** Register more four-eyes kinds here (CA generation, mass revocation, safety-valve resume). */
  readonly approvals: ApprovalEngine;
  readonly exports: IssuanceExport;
  readonly verifier: AuditVerifier;
  readonly checkpointer: AuditCheckpointer;
  readonly retention: RetentionService;
  readonly disclosure: DisclosureService;
  readonly anomalies: AnomalyMonitor;
  /** The admin routers (api/routes/admin-controls.ts), for createApp's `v1Routers`. */
  readonly v1Routers: ReadonlyArray<(openapi: OpenApiDocument) => Router>;
  /**
   * The periodic jobs, each run by one process of the cluster under its job lease (docs/cluster.md):
   * signed audit checkpoints, approval expiry, anomaly polling. Their writes go through the lease's
   * fenced transactions: a process whose lease moved on commits none.
   */
  readonly jobs: readonly SingletonJob[];
}

/**
 * Builds the admin services from the opened service and the operator auth (api/wiring/operator-auth.ts).
 * Finds or generates the audit checkpoint key in the HSM.
 */
export async function buildAdminControls(service: AdminControlsDeps, auth: OperatorAuth, options: AdminControlsOptions = {}): Promise<AdminControls> {
  const { db, clock, random, stores, logger } = service;
  const audit = stores.audit;
  const periods = parseRetentionPeriods(options.retention);
  // Read on each use: the ceremony may make the service CA after this was built.
  const serviceCa: ServiceCaMaterial = {
    get signer() {
      return service.serviceCa.signer;
    },
    get certificate() {
      return service.serviceCa.certificate;
    },
  };

  const terminals = new TerminalRegistry({ terminals: stores.terminals, sessions: stores.operatorSessions, audit, transactions: db, clock, random, serviceCa });
  const relyingParties = new RelyingPartyEnrolment({ registry: service.relyingParties, store: stores.relyingParties, serviceCa: () => service.serviceCa, audit, transactions: db, clock, random });
  const inquirySource = new KnexInquirySource(db);
  const inquiry = new CertificateInquiry({ source: inquirySource, audit, clock });

  // The audit chain (docs/design.md invariant 4): signed checkpoints and their verification.
  const logReader = new KnexAuditLogReader(db);
  const checkpointStore = new KnexAuditCheckpointStore(db);
  const checkpointerDeps = {
    signer: await auditCheckpointSigner(service.hsm, advisoryLock(service.db, `hsm-key:${AUDIT_CHECKPOINT_KEY_LABEL}`), AUDIT_CHECKPOINT_KEY_LABEL, service.config.hsm.serviceKeySpec),
    keyLabel: AUDIT_CHECKPOINT_KEY_LABEL,
    store: checkpointStore,
    audit,
    head: () => logReader.head(),
    transactions: db,
    clock,
  };
  const checkpointer = new AuditCheckpointer(checkpointerDeps);
  const verifier = new AuditVerifier({ log: logReader, checkpoints: checkpointStore, trustedKeys: [checkpointer.publicKey], now: () => clock.now(), audit });

  const retention = new RetentionService({
    audit,
    clock,
    tasks: [...standardRetentionTasks(db, periods, { checkpointer, verify: () => verifier.verify() }), ...(options.retentionTasks ?? [])],
  });

  const approvalDeps = {
    store: new KnexApprovalStore(db),
    audit,
    transactions: db,
    clock,
    random,
    onUnexpectedError: (e: unknown, kind: string) => logger.error({ kind, err: (e as Error)?.name }, "approval executor failed"),
    // Issue 12: confirmed approvers only, never a sponsor of the requester's account or of the account a request is about.
    accounts: stores.operators,
  };
  const approvals = new ApprovalEngine(approvalDeps);
  const exportSource = new KnexIssuanceExportSource(db);
  approvals.register(issuanceExportExecutor({ source: exportSource, clock }));
  approvals.register(retentionPurgeExecutor(retention));
  // Issue 12: creating an operator with a four-eyes role, granting one, resetting a password: decided by a second security officer.
  for (const e of operatorApprovalExecutors({ operators: stores.operators, sessions: stores.operatorSessions, audit, transactions: db, clock, random, passwords: new ScryptPasswordHasher(random), passwordPolicy: auth.settings.passwordPolicy })) approvals.register(e);
  const operators = new OperatorAdmin({ auth, operators: stores.operators, sessions: stores.operatorSessions, audit, transactions: db, clock, random, approvals });
  const exports = new IssuanceExport({ engine: approvals, source: exportSource, audit, clock });

  const disclosure = new DisclosureService({
    certificates: inquirySource,
    sources: [residentEventsDisclosureSource(db), relyingPartyAccessDisclosureSource(db), certificateLinksDisclosureSource(db), ...(options.disclosureSources ?? [])],
    audit,
    clock,
  });

  const anomalies = anomalyMonitor(service, logReader, options, (e) => audit.append(e));

  const v1Routers = adminControlRoutes({
    requireOperator: (...roles: OperatorRole[]) => requireOperator(auth, ...roles),
    operators,
    terminals,
    terminalList: stores.terminals,
    relyingParties,
    relyingPartyList: stores.relyingParties,
    inquiry,
    approvals,
    exports,
    verifier,
    checkpointer,
    auditSearch: (s) => logReader.search(s),
    checkpoints: checkpointStore,
    retention,
    disclosure,
    serviceCaCertificate: () => service.serviceCa.certificate,
  });

  const intervalMs = options.checkpointIntervalMs ?? 60 * 60 * 1000;
  return {
    operators,
    terminals,
    relyingParties,
    inquiry,
    approvals,
    exports,
    verifier,
    checkpointer,
    retention,
    disclosure,
    anomalies,
    v1Routers,
    jobs: [
      periodicJob("audit-checkpoint", Math.min(intervalMs, 60_000), (term) => {
        const fenced = new AuditCheckpointer({ ...checkpointerDeps, transactions: term.transactions });
        return () => fenced.checkpointIfDue(intervalMs);
      }),
      periodicJob("approval-expiry", 60_000, (term) => {
        // Expiry is a compare-and-set (pending → expired) anyway; the fence keeps a stale process from auditing it.
        const fenced = new ApprovalEngine({ ...approvalDeps, transactions: term.transactions });
        return () => fenced.expireDue();
      }),
      periodicJob("anomaly-monitor", 5_000, (term) => {
        // A new monitor per term: it reads from the log's head at the start of the term (no alert twice
        // after the lease came back), and records its alerts only while the term holds.
        const monitor = anomalyMonitor(service, logReader, options, (e) => term.transactions.transaction((tx) => audit.append(e, tx)));
        return () => monitor.poll();
      }),
    ],
  };

  /** A job run at once and every `ms` while the lease is held; failures logged by name only (no personal data). */
  function periodicJob(name: string, ms: number, make: (term: LeaseTerm) => () => Promise<unknown>): SingletonJob {
    return {
      name,
      start(term) {
        const run = make(term);
        let busy: Promise<unknown> | undefined;
        const tick = (): void => {
          busy ??= run()
            .catch((e: unknown) => logger.error({ job: name, err: (e as Error)?.name, message: (e as { kind?: string })?.kind }, "admin job failed"))
            .finally(() => (busy = undefined));
        };
        // At once (a job taken over resumes without waiting a period), then every `ms`.
        tick();
        const t = setInterval(tick, ms);
        t.unref();
        return async () => {
          clearInterval(t);
          await busy;
        };
      },
    };
  }
}

/** Anomaly monitoring over the audit log (docs/domain.md §6): alerts counted, logged by kind, and recorded in the log. */
function anomalyMonitor(
  service: Pick<AdminControlsDeps, "metrics" | "logger" | "clock">,
  logReader: KnexAuditLogReader,
  options: AdminControlsOptions,
  append: (e: AuditEntryInput) => Promise<AuditEntry>,
): AnomalyMonitor {
  const { metrics, logger, clock } = service;
  const alerts =
    (metrics.registry.getSingleMetric("ca_anomaly_alerts_total") as Counter<"kind"> | undefined) ??
    new Counter({ name: "ca_anomaly_alerts_total", help: "Anomaly alerts by kind (also in the audit log as anomaly.detected)", labelNames: ["kind"], registers: [metrics.registry] });
  return new AnomalyMonitor({
    log: { range: (from, limit) => logReader.range(from, limit), append: (e) => append(e) },
    head: () => logReader.head(),
    detector: new AnomalyDetector({ ...(options.anomalies ? { thresholds: options.anomalies } : {}), ...(options.schedule ? { schedule: options.schedule } : {}), ...(options.holidays ? { holidays: options.holidays } : {}) }),
    sink: {
      alert: (a) => {
        alerts.inc({ kind: a.kind });
        logger.warn({ kind: a.kind, count: a.count, seq: a.seq }, "anomaly detected"); // the key (an id) stays in the audit log
      },
    },
    clock,
  });
}
