import { CaError } from "../errors.js";
import { defaultOperatingSchedule, isWithinOperatingHours, type HolidayCalendar, type OperatingSchedule } from "../operators/operating-hours.js";
import type { Clock } from "../ports.js";
import type { AuditStore } from "../stores.js";
import type { AuditEntry } from "../types.js";

/**
 * Anomaly alerts (告示334号 第4-9: early detection of unauthorized access; 久御山町 第20条の2: logon
 * history checked for intrusion). The detector reads the audit log — the one record every API node
 * writes to — and raises:
 *
 * - `failed-logins-operator`: repeated failed logins of one operator (beyond the 3-strike lockout:
 *   attempts on a locked account count too);
 * - `failed-logins-terminal`: repeated failed logins from one terminal or workstation, whatever ids
 *   are tried (password spraying);
 * - `inquiries-operator`: one operator making more inquiries than the duty needs (building a database);
 * - `issuance-spike-terminal`: one terminal issuing far more than a counter can;
 * - `outside-operating-hours`: logins and denied attempts outside the operating hours;
 * - `operator-locked`: an account was locked by repeated failures (every lock, never quieted: the
 *   operator cannot tell a lock from a wrong password, so the security officer must see each one);
 * - `login-rate-limited`: a client certificate or source address passed the login limits
 *   (ca/operators/login-throttle.ts).
 *
 * Each alert goes to the metrics (`AnomalySink`) and back into the audit log ("anomaly.detected").
 * After an alert, the same kind and key stay quiet for one window.
 */
export type AnomalyKind =
  | "failed-logins-operator"
  | "failed-logins-terminal"
  | "inquiries-operator"
  | "issuance-spike-terminal"
  | "outside-operating-hours"
  | "operator-locked"
  | "login-rate-limited";
export const anomalyKinds: readonly AnomalyKind[] = [
  "failed-logins-operator",
  "failed-logins-terminal",
  "inquiries-operator",
  "issuance-spike-terminal",
  "outside-operating-hours",
  "operator-locked",
  "login-rate-limited",
];

export interface AnomalyThresholds {
  readonly windowMs: number;
  readonly failedLoginsPerOperator: number;
  readonly failedLoginsPerTerminal: number;
  readonly inquiriesPerOperator: number;
  readonly issuanceWindowMs: number;
  readonly issuancesPerTerminal: number;
}

export const defaultAnomalyThresholds: AnomalyThresholds = Object.freeze({
  windowMs: 60 * 60 * 1000,
  failedLoginsPerOperator: 5,
  failedLoginsPerTerminal: 5,
  inquiriesPerOperator: 30,
  issuanceWindowMs: 10 * 60 * 1000,
  // A counter serves a resident in minutes; 60 issuances in 10 minutes from one terminal is not a queue.
  issuancesPerTerminal: 60,
});

export interface AnomalyAlert {
  readonly kind: AnomalyKind;
  /** "operator:<id>" or "terminal:<id>". */
  readonly key: string;
  readonly count: number;
  readonly windowMs: number;
  readonly at: Date;
  /** The audit entry that crossed the threshold. */
  readonly seq: number;
}

/** The metrics side (api: a prom-client counter by kind). */
export interface AnomalySink {
  alert(alert: AnomalyAlert): void;
}

/** Pure, stateful: feed entries in seq order, get alerts. */
export class AnomalyDetector {
  private readonly windows = new Map<string, number[]>();
  private readonly quietUntil = new Map<string, number>();
  private readonly schedule: OperatingSchedule;
  private readonly holidays: HolidayCalendar;
  readonly thresholds: AnomalyThresholds;

  constructor(options: { thresholds?: Partial<AnomalyThresholds>; schedule?: OperatingSchedule; holidays?: HolidayCalendar } = {}) {
    this.thresholds = Object.freeze({ ...defaultAnomalyThresholds, ...options.thresholds });
    for (const [k, v] of Object.entries(this.thresholds)) {
      if (!Number.isInteger(v) || v < 1) throw new CaError("invalid-input", `anomaly threshold ${k} must be a positive whole number`, { field: `anomalies.${k}` });
    }
    this.schedule = options.schedule ?? defaultOperatingSchedule;
    this.holidays = options.holidays ?? new Set();
  }

  observe(e: AuditEntry): AnomalyAlert[] {
    if (e.action === "anomaly.detected") return [];
    const t = this.thresholds;
    const alerts: AnomalyAlert[] = [];
    const d = e.detail as Record<string, unknown>;
    const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);
    const isLogin = e.action === "operator.login";
    const failed = e.outcome !== "success";
    const terminal = str(d.terminal) ?? str(d.terminalId) ?? (str((d.client as Record<string, unknown> | undefined)?.id));

    if (isLogin && failed) {
      if (e.actor.startsWith("operator:")) this.count(alerts, e, "failed-logins-operator", e.actor, t.windowMs, t.failedLoginsPerOperator);
      if (terminal) this.count(alerts, e, "failed-logins-terminal", `terminal:${terminal}`, t.windowMs, t.failedLoginsPerTerminal);
    }
    if (e.action === "inquiry.certificates") this.count(alerts, e, "inquiries-operator", e.actor, t.windowMs, t.inquiriesPerOperator);
    if (e.action === "certificate.issued" && e.outcome === "success" && terminal) {
      this.count(alerts, e, "issuance-spike-terminal", `terminal:${terminal}`, t.issuanceWindowMs, t.issuancesPerTerminal);
    }
    if (e.action === "operator.locked" && e.subject !== null) {
      alerts.push({ kind: "operator-locked", key: e.subject, count: Number(d.failedAttempts ?? 0), windowMs: t.windowMs, at: e.at, seq: e.seq });
    }
    if (isLogin && e.outcome === "denied" && d.reason === "rate-limited") {
      this.raise(alerts, e, "login-rate-limited", terminal ? `terminal:${terminal}` : e.actor, 1, t.windowMs);
    }
    const deniedForHours = e.outcome === "denied" && /outside operating hours/.test(String(d.reason ?? ""));
    if (deniedForHours || (isLogin && !isWithinOperatingHours(e.at, this.schedule, this.holidays))) {
      const key = terminal ? `terminal:${terminal}` : e.actor;
      this.raise(alerts, e, "outside-operating-hours", key, 1, t.windowMs);
    }
    return alerts;
  }

  private count(out: AnomalyAlert[], e: AuditEntry, kind: AnomalyKind, key: string, windowMs: number, threshold: number): void {
    const id = `${kind}|${key}`;
    const now = e.at.getTime();
    const kept = (this.windows.get(id) ?? []).filter((t) => t > now - windowMs);
    kept.push(now);
    this.windows.set(id, kept);
    if (kept.length >= threshold) this.raise(out, e, kind, key, kept.length, windowMs);
  }

  private raise(out: AnomalyAlert[], e: AuditEntry, kind: AnomalyKind, key: string, count: number, windowMs: number): void {
    const id = `${kind}|${key}`;
    const now = e.at.getTime();
    if ((this.quietUntil.get(id) ?? -Infinity) > now) return;
    this.quietUntil.set(id, now + windowMs);
    out.push({ kind, key, count, windowMs, at: e.at, seq: e.seq });
  }
}

/**
 * Follows the audit log from where it stood at start (or `fromSeq`), feeding the detector; call
 * `poll()` on a timer. In a deployment of several API nodes, run it on one of them (every node writes
 * to the same log, so one reader sees everything).
 */
export class AnomalyMonitor {
  private cursor: number | undefined;

  constructor(
    private readonly deps: {
      readonly log: Pick<AuditStore, "range" | "append">;
      readonly head: () => Promise<{ seq: number }>;
      readonly detector: AnomalyDetector;
      readonly sink: AnomalySink;
      readonly clock: Clock;
      readonly fromSeq?: number;
    },
  ) {
    if (deps.fromSeq !== undefined) this.cursor = deps.fromSeq;
  }

  /** Reads what was appended since the last poll; returns the alerts raised. */
  async poll(maxEntries = 10_000): Promise<AnomalyAlert[]> {
    this.cursor ??= (await this.deps.head()).seq + 1;
    const alerts: AnomalyAlert[] = [];
    let read = 0;
    while (read < maxEntries) {
      const page = await this.deps.log.range(this.cursor, 500);
      if (page.length === 0) break;
      for (const e of page) {
        for (const a of this.deps.detector.observe(e)) alerts.push(a);
        this.cursor = e.seq + 1;
      }
      read += page.length;
      if (page.length < 500) break;
    }
    for (const a of alerts) {
      this.deps.sink.alert(a);
      await this.deps.log.append({
        at: this.deps.clock.now(),
        action: "anomaly.detected",
        actor: "system",
        subject: a.key,
        outcome: "success",
        detail: { kind: a.kind, count: a.count, observedAt: a.at.toISOString(), windowMinutes: Math.round(a.windowMs / 60_000), triggeredBySeq: a.seq },
      });
    }
    return alerts;
  }
}
