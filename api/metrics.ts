import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

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
  readonly httpRequests = new Counter({
    name: "ca_http_requests_total",
    help: "HTTP requests by route and status",
    labelNames: ["method", "route", "status"],
    registers: [this.registry],
  });
  readonly httpErrors = new Counter({ name: "ca_http_errors_total", help: "HTTP 5xx answers", registers: [this.registry] });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
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
