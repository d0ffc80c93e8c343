import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { EventOutcome, EventTransport } from "../ca/residents/resident-event-ports.js";

/** What the event intake reports; counted after commit, so rolled-back work is never counted. */
export interface EventMetrics {
  outcomes(transport: EventTransport, outcome: EventOutcome, n: number): void;
  revocations(n: number): void;
  /** The safety valve's state as last read (1 halted, 0 running). */
  valveHalted(halted: boolean): void;
  /** The valve tripped now (`rate-breaker`, `revocation-cap`, `operator`): the alarm. */
  valveAlarm(reason: string): void;
  batchSeconds(transport: EventTransport, seconds: number): void;
}

export const noEventMetrics: EventMetrics = {
  outcomes: () => undefined,
  revocations: () => undefined,
  valveHalted: () => undefined,
  valveAlarm: () => undefined,
  batchSeconds: () => undefined,
};

/**
 * EventMetrics on a prom-client registry (the service's, api/metrics.ts `Metrics.registry`):
 * ca_resident_events_total{transport,outcome}, ca_event_revocations_total,
 * ca_event_safety_valve_halted, ca_event_safety_valve_alarms_total{reason},
 * ca_event_batch_seconds{transport}. Alert on the gauge and on the alarm counter.
 */
export function promEventMetrics(registry: Registry): EventMetrics {
  const cached = wired.get(registry);
  if (cached) return cached; // a registry takes each metric name once
  const registers = [registry];
  const events = new Counter({ name: "ca_resident_events_total", help: "Resident change events by transport and outcome", labelNames: ["transport", "outcome"], registers });
  const revoked = new Counter({ name: "ca_event_revocations_total", help: "Certificates revoked by resident change events", registers });
  const halted = new Gauge({ name: "ca_event_safety_valve_halted", help: "1 while the event safety valve holds events back (a ca-operator must resume)", registers });
  const alarms = new Counter({ name: "ca_event_safety_valve_alarms_total", help: "Safety valve alarms: breaker trips, events over the revocation cap", labelNames: ["reason"], registers });
  const seconds = new Histogram({
    name: "ca_event_batch_seconds",
    help: "Time to apply one batch of events (one transaction)",
    labelNames: ["transport"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const metrics: EventMetrics = {
    outcomes: (transport, outcome, n) => events.inc({ transport, outcome }, n),
    revocations: (n) => revoked.inc(n),
    valveHalted: (h) => halted.set(h ? 1 : 0),
    valveAlarm: (reason) => alarms.inc({ reason }),
    batchSeconds: (transport, s) => seconds.observe({ transport }, s),
  };
  wired.set(registry, metrics);
  return metrics;
}

const wired = new WeakMap<Registry, EventMetrics>();
