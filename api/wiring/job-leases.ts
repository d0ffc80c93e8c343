import { processHolderId } from "../../ca/cluster/holder-id.js";
import { LeaseKeeper, type SingletonJob } from "../../ca/cluster/lease-keeper.js";
import { KnexJobLeaseStore } from "../../db/job-lease-store.js";
import type { IssuanceService } from "../../ca/issuance/issuance-service.js";
import type { CrlService } from "../../crl/crl-service.js";
import type { OcspService } from "../../ocsp/ocsp-service.js";
import type { AdminControls } from "./admin-controls.js";
import type { ServiceWith } from "./service.js";

/** What the jobs run, of the handlers api/main.ts wires. */
export interface SingletonJobSources {
  readonly issuance: Pick<IssuanceService, "reconcile">;
  readonly crl: Pick<CrlService, "scheduler" | "startCoverageChecks">;
  readonly ocsp: Pick<OcspService, "presigner" | "startRenewal">;
  readonly admin: Pick<AdminControls, "jobs">;
}

/**
 * Leadership per background job (docs/cluster.md): every service process runs a lease keeper over
 * the same jobs; the one holding a job's lease (table job_leases) runs it. What runs in every process
 * instead (listeners, OCSP following, NATS consumer, access logs, CA generation polling) is started by
 * api/main.ts serve().
 */

/** How often pending issuances left by a crash are looked for (docs/design.md invariant 1). */
const RECONCILE_EVERY_MS = 60_000;
/** The CRL coverage check reads every revoked row and every current CRL: hourly is plenty. */
const COVERAGE_EVERY_SECONDS = 3600;

/** The singleton jobs of the service, each under its lease. */
export function singletonJobs(handlers: SingletonJobSources, log: ServiceWith<"logger">["logger"]): SingletonJob[] {
  return [
    {
      // Completing a pending issuance is a compare-and-set (pending → valid): a second reconciler
      // would only sign again for nothing. The lease saves the HSM that work.
      name: "issuance-reconciler",
      start() {
        let running: Promise<void> | undefined;
        const reconcile = (): void => {
          running ??= handlers.issuance
            .reconcile()
            .then((r) => {
              if (r.completed + r.failed > 0) log.warn(r, "reconciled pending issuances");
            })
            .catch((e: unknown) => log.error({ err: (e as Error).name }, "reconciler failed"))
            .finally(() => (running = undefined));
        };
        reconcile();
        const timer = setInterval(reconcile, RECONCILE_EVERY_MS);
        timer.unref();
        return async () => {
          clearInterval(timer);
          await running;
        };
      },
    },
    {
      // CRL issuance is fenced by its own partition leases (crl/crl-scheduler.ts); this lease keeps the
      // outbox polling and due-partition scans to one process.
      name: "crl-scheduler",
      start() {
        handlers.crl.scheduler.start();
        return () => handlers.crl.scheduler.stop();
      },
    },
    {
      name: "crl-coverage",
      start: () => handlers.crl.startCoverageChecks(COVERAGE_EVERY_SECONDS),
    },
    {
      // Outbox consumer, refresh, drop, age metric: idempotent (a cursor that only moves forward, re-signs).
      name: "ocsp-presigner",
      start() {
        handlers.ocsp.presigner.startBackground();
        return () => handlers.ocsp.presigner.stopBackground();
      },
    },
    {
      // Two renewals at once would make two responder keys: the fence refuses the stale one's record.
      name: "ocsp-responder-renewal",
      start: (term) => handlers.ocsp.startRenewal(term.transactions),
    },
    ...handlers.admin.jobs,
  ];
}

/** The lease keeper of this process over `jobs` (not started). */
export function buildLeaseKeeper(service: ServiceWith<"db" | "logger" | "metrics" | "config">, jobs: readonly SingletonJob[]): LeaseKeeper {
  const keeper = new LeaseKeeper(
    {
      store: new KnexJobLeaseStore(service.db),
      transactions: service.db,
      holder: processHolderId(),
      log: service.logger,
      metrics: service.metrics.jobLeases,
    },
    service.config.jobLeases,
  );
  for (const job of jobs) keeper.add(job);
  return keeper;
}
