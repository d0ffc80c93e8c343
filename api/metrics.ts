import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { CrlMetrics } from "../crl/crl-metrics.js";
import type { OcspMetrics } from "../ocsp/ocsp-metrics.js";

/**
 * Prometheus metrics of one process, on a registry of its own (no module-level global registry,
 * so tests can build several apps in one process).
 */
export class Metrics {
  readonly registry = new Registry();
  readonly hsmSignSeconds = new Histogram({
    name: "ca_hsm_sign_seconds",
    help: "HSM signature latency",
    labelNames: ["algorithm", "outcome"],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly hsmSessionsInUse = new Gauge({ name: "ca_hsm_sessions_in_use", help: "PKCS#11 sessions busy signing", registers: [this.registry] });
  readonly hsmErrors = new Counter({ name: "ca_hsm_errors_total", help: "HSM errors by kind", labelNames: ["kind"], registers: [this.registry] });
  /** Fast-path OCSP GET answers by HTTP status, folded into httpRequests when it is read. */
  private readonly ocspGets = new Tally();
  readonly httpRequests: Counter<"method" | "route" | "status"> = new Counter({
    name: "ca_http_requests_total",
    help: "HTTP requests by route and status",
    labelNames: ["method", "route", "status"],
    registers: [this.registry],
    collect: () => this.ocspGets.drain((status, n) => this.httpRequests.inc({ method: "GET", route: "/ocsp/*request", status }, n)),
  });
  readonly httpErrors = new Counter({ name: "ca_http_errors_total", help: "HTTP 5xx answers", registers: [this.registry] });

  readonly crlIssueSeconds = new Histogram({
    name: "ca_crl_issue_seconds",
    help: "CRL build + sign + publish",
    labelNames: ["ca", "kind"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly crlFailures = new Counter({ name: "ca_crl_failures_total", help: "CRL worker failures", labelNames: ["stage"], registers: [this.registry] });
  readonly crlCoverage = new Gauge({ name: "ca_crl_coverage", help: "last coverage check by kind; 0 is healthy", labelNames: ["kind"], registers: [this.registry] });
  /** The CrlMetrics port of crl/. */
  readonly crl: CrlMetrics = {
    observeIssued: (caId, kind, _entries, seconds) => this.crlIssueSeconds.observe({ ca: caId, kind }, seconds),
    incFailure: (stage) => this.crlFailures.inc({ stage }),
    setCoverage: (c) => {
      for (const [kind, n] of Object.entries(c)) this.crlCoverage.set({ kind }, n as number);
    },
  };

  private readonly ocspStatuses = new Tally();
  private readonly ocspLookups = new Tally();
  readonly ocspResponses: Counter<"status"> = new Counter({
    name: "ca_ocsp_responses_total",
    help: "OCSP answers by status",
    labelNames: ["status"],
    registers: [this.registry],
    collect: () => this.ocspStatuses.drain((status, n) => this.ocspResponses.inc({ status }, n)),
  });
  readonly ocspPresignedLookups: Counter<"result"> = new Counter({
    name: "ca_ocsp_presigned_lookups_total",
    help: "pre-signed response lookups",
    labelNames: ["result"],
    registers: [this.registry],
    collect: () => this.ocspLookups.drain((result, n) => this.ocspPresignedLookups.inc({ result }, n)),
  });
  /** This process's pre-signed lookups since it started: the console's hit ratio (api/routes/admin-dashboard.ts). */
  async presignedLookups(): Promise<{ hits: number; misses: number }> {
    const { values } = await this.ocspPresignedLookups.get();
    const of = (result: string): number => values.find((v) => v.labels["result"] === result)?.value ?? 0;
    return { hits: of("hit"), misses: of("miss") };
  }
  readonly ocspOldestAge = new Gauge({ name: "ca_ocsp_oldest_response_age_seconds", help: "age of the oldest stored response of an unexpired certificate", registers: [this.registry] });
  readonly ocspQueueDepth = new Gauge({ name: "ca_ocsp_signing_queue_depth", help: "live OCSP signatures running or waiting", registers: [this.registry] });
  readonly ocspSignatures = new Counter({ name: "ca_ocsp_signatures_total", help: "OCSP responses signed", labelNames: ["purpose"], registers: [this.registry] });
  readonly ocspStoredResponses = new Gauge({ name: "ca_ocsp_stored_responses", help: "OCSP responses stored (asked within the demand window, or expiring)", registers: [this.registry] });
  /** The OcspMetrics port of ocsp/ (pre-signed hit ratio = hit / (hit + miss)). */
  readonly ocsp: OcspMetrics = {
    countResponse: (status) => this.ocspStatuses.add(status),
    countPresignedLookup: (hit) => this.ocspLookups.add(hit ? "hit" : "miss"),
    setOldestResponseAge: (seconds) => this.ocspOldestAge.set(seconds),
    setSigningQueueDepth: (depth) => this.ocspQueueDepth.set(depth),
    countSignature: (purpose) => this.ocspSignatures.inc({ purpose }),
    setStoredResponses: (count) => this.ocspStoredResponses.set(count),
  };

  readonly jobLeaseHeld = new Gauge({ name: "ca_job_lease_held", help: "1 while this process holds the job's lease and runs it (docs/cluster.md)", labelNames: ["job"], registers: [this.registry] });
  readonly jobLeaseChanges = new Counter({ name: "ca_job_lease_changes_total", help: "job leases acquired, lost and released by this process", labelNames: ["job", "change"], registers: [this.registry] });
  /** The LeaseMetrics port of ca/cluster/lease-keeper.ts. */
  readonly jobLeases = {
    setHeld: (job: string, held: boolean): void => {
      this.jobLeaseHeld.set({ job }, held ? 1 : 0);
    },
    countChange: (job: string, change: "acquired" | "lost" | "released"): void => {
      this.jobLeaseChanges.inc({ job, change });
    },
  };

  /** An answer of the OCSP GET fast path (api/routes/ocsp.ts ocspFastPath), by HTTP status. */
  countOcspGet(status: number): void {
    this.ocspGets.add(String(status));
  }

  /** What `/metrics` serves: this registry, or (service workers) the whole service's (api/cluster-metrics.ts). */
  private source: () => Promise<string> = () => this.registry.metrics();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** The Prometheus exposition `/metrics` answers. */
  exposition(): Promise<string> {
    return this.source();
  }

  /** Serve `/metrics` from elsewhere (a worker of several: the supervisor's aggregate). */
  useSource(source: () => Promise<string>): void {
    this.source = source;
  }

  /** The HsmMetrics port of hsm/pkcs11-hsm.ts. */
  readonly hsm = {
    observeSign: (algorithm: string, seconds: number, ok: boolean): void => {
      this.hsmSignSeconds.observe({ algorithm, outcome: ok ? "ok" : "error" }, seconds);
    },
    setSessionsInUse: (n: number): void => {
      this.hsmSessionsInUse.set(n);
    },
    incError: (kind: string): void => {
      this.hsmErrors.inc({ kind });
    },
  };
}

/**
 * Counts by one label value kept as plain numbers and folded into a prom-client counter when the
 * registry is read (its `collect`): prom-client hashes the label set on every `inc`, about a
 * microsecond, which the OCSP hot path paid two or three times per answer (docs/ocsp.md).
 */
export class Tally {
  private readonly counts = new Map<string, number>();

  add(value: string): void {
    this.counts.set(value, (this.counts.get(value) ?? 0) + 1);
  }

  /** Hands over every count so far and starts again from zero. */
  drain(into: (value: string, n: number) => void): void {
    for (const [value, n] of this.counts) into(value, n);
    this.counts.clear();
  }
}
