import { Counter, Gauge } from "prom-client";
import type { ThrottleScope } from "../ca/operators/login-throttle.js";
import type { HashQueueObserver } from "../ca/operators/password-hash.js";
import type { Metrics } from "./metrics.js";

/**
 * Metrics of login hardening (issue 12 item 4), on the process's registry: refused login attempts by
 * scope, and the password-hash queue. Registered once per registry (buildHandlers may run twice on one
 * service in tests). Lockouts are counted by `ca_anomaly_alerts_total{kind="operator-locked"}`.
 */
export interface LoginMetrics {
  readonly refused: (scope: ThrottleScope) => void;
  readonly hashQueue: HashQueueObserver;
}

function once<T>(metrics: Metrics, name: string, make: () => T): T {
  return (metrics.registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function loginMetrics(metrics: Metrics): LoginMetrics {
  const registers = [metrics.registry];
  const refused = once(metrics, "ca_login_rate_limited_total", () => new Counter({ name: "ca_login_rate_limited_total", help: "login attempts refused by the per-certificate or per-source limit", labelNames: ["scope"], registers }));
  const running = once(metrics, "ca_password_hashes_running", () => new Gauge({ name: "ca_password_hashes_running", help: "password hashes running now", registers }));
  const queued = once(metrics, "ca_password_hashes_queued", () => new Gauge({ name: "ca_password_hashes_queued", help: "password hashes waiting for a slot", registers }));
  const rejected = once(metrics, "ca_password_hash_rejected_total", () => new Counter({ name: "ca_password_hash_rejected_total", help: "logins refused because the hash queue was full (503)", registers }));
  return {
    refused: (scope) => (refused as Counter<"scope">).inc({ scope }),
    hashQueue: {
      depth: (r, q) => {
        running.set(r);
        queued.set(q);
      },
      rejected: () => rejected.inc(),
    },
  };
}
