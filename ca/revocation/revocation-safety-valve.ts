import { CaError } from "../errors.js";

/**
 * The safety valve between the resident feed and mass revocation (modelled on Boulder's
 * bad-key-revoker `MaximumRevocations`, letsencrypt/boulder cmd/bad-key-revoker): a faulty feed must not revoke a population.
 *
 * - **Per-event cap**: an event that would revoke more certificates than a resident can hold (default
 *   4: two kinds, plus a renewal in flight) is not applied; it is rejected with reason
 *   `revocation-cap-exceeded`, kept, and raises the alarm. A ca-operator may replay it with the cap
 *   overridden after checking it.
 * - **Rate breaker**: when applying an event would make more than `maxRevocations` revocations within
 *   `windowMs` (default 5,000 in 10 minutes), the valve halts: that event and every later one are
 *   stored as `deferred`, not applied, until a ca-operator resumes. Resuming applies the deferred
 *   events in the order received (the operator approved exactly that backlog, so the breaker does
 *   not count it) and restarts the window.
 */

export interface SafetyValveLimits {
  /** Revocations one event may cause (default 4). */
  readonly maxRevocationsPerEvent: number;
  /** Revocations allowed within the window before the breaker trips (default 5,000). */
  readonly maxRevocationsInWindow: number;
  /** The breaker's sliding window (default 10 minutes). */
  readonly windowMs: number;
  /**
   * Whether phone certificates revoked with the card's (issue #16, ca/revocation/revocation-policy.ts)
   * count towards the cap and the breaker. Default false: both count card certificates, as before
   * phones existed, so a resident with a phone is not capped sooner [U].
   */
  readonly countPhoneCertificates?: boolean;
}

export const defaultSafetyValveLimits: SafetyValveLimits = Object.freeze({
  maxRevocationsPerEvent: 4,
  maxRevocationsInWindow: 5_000,
  windowMs: 10 * 60 * 1000,
});

/** Checks limits given by configuration; CaError("invalid-input") naming the field. */
export function validateSafetyValveLimits(limits: SafetyValveLimits): SafetyValveLimits {
  const positiveInt = (v: number, field: string): void => {
    if (!Number.isSafeInteger(v) || v < 1) throw new CaError("invalid-input", `${field} must be a positive integer`, { field });
  };
  positiveInt(limits.maxRevocationsPerEvent, "events.maxRevocationsPerEvent");
  positiveInt(limits.maxRevocationsInWindow, "events.breaker.maxRevocations");
  positiveInt(limits.windowMs, "events.breaker.windowMs");
  // The window is counted in 10-second buckets kept for a day (db/resident-event-store.ts).
  if (limits.windowMs > 86_400_000) throw new CaError("invalid-input", "events.breaker.windowMs must be at most one day", { field: "events.breaker.windowMs" });
  return Object.freeze({ ...limits });
}

/** The valve's persisted state (one row, shared by every process). */
export interface SafetyValveState {
  readonly halted: boolean;
  readonly haltedAt: Date | null;
  /** Why it halted: `rate-breaker` or `operator`; never personal data. */
  readonly haltReason: string | null;
  readonly resumedAt: Date | null;
  readonly resumedBy: string | null;
}

/** Start of the breaker window: `windowMs` back from now, but never before the last resume. */
export function breakerWindowStart(now: Date, state: Pick<SafetyValveState, "resumedAt">, limits: SafetyValveLimits): Date {
  const start = now.getTime() - limits.windowMs;
  return new Date(state.resumedAt ? Math.max(start, state.resumedAt.getTime()) : start);
}

/**
 * The breaker's remaining budget in one transaction: starts from the revocations already applied in
 * the window and admits events while the total stays within the limit ("more than N trips").
 */
export class BreakerBudget {
  private used: number;
  constructor(
    private readonly limit: number,
    alreadyInWindow: number,
  ) {
    this.used = alreadyInWindow;
  }

  /** Takes `n` revocations; false (and nothing taken) when that would exceed the limit. */
  tryTake(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }

  get inWindow(): number {
    return this.used;
  }
}
