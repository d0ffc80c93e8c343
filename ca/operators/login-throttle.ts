import { CaError } from "../errors.js";
import type { Clock } from "../ports.js";

/**
 * Login attempts limited per client certificate and per source address (issue 12 item 4), counted
 * before any password is hashed and before any failure counts towards an operator's lockout: one
 * terminal, or one address, can try only so many passwords, and cannot lock a whole office out.
 *
 * Fixed windows counted in the database (`login_attempts`, migration 0018) through the
 * `LoginAttemptStore` port, so the limit holds across every API node (not per process). Every attempt
 * counts while it is in flight (so 40 parallel guesses cannot all slip under the limit) and a successful
 * login gives its count back: the limit is on failed attempts, and a busy counter where clerks log in
 * after each job never meets it, while a guesser does after a few tries.
 */
export interface LoginLimits {
  /** Window length; default 5 minutes. */
  readonly windowMs: number;
  /** Failed (or in-flight) attempts per client certificate per window; default 10. */
  readonly perCertificate: number;
  /** Failed (or in-flight) attempts per source address per window; default 60 (terminals may share a NAT address). */
  readonly perSource: number;
}

export const defaultLoginLimits: LoginLimits = Object.freeze({ windowMs: 5 * 60_000, perCertificate: 10, perSource: 60 });

export interface LoginAttemptStore {
  /**
   * Counts one attempt for each key in the window starting at `windowStart` (atomically, whatever the
   * concurrency) and returns the counts, in the order of `keys`.
   */
  hit(keys: readonly string[], windowStart: Date): Promise<number[]>;
  /** Takes one attempt back from each key's counter of that window (a successful login), never below 0. */
  release(keys: readonly string[], windowStart: Date): Promise<void>;
  /** Deletes the counts of windows that started before `before`. Returns how many. */
  purge(before: Date): Promise<number>;
}

export type ThrottleScope = "certificate" | "source";

/** The CaError of a throttled attempt: 429, with when to try again (the end of the window). */
export class LoginRateLimited extends CaError {
  constructor(
    readonly scope: ThrottleScope,
    readonly retryAfterSeconds: number,
    /** True for the first refused attempt of this window: the one that is audited. */
    readonly firstRefusal: boolean,
  ) {
    super("rate-limited", "too many login attempts from this client: try again later");
  }
}

export class LoginThrottle {
  readonly limits: LoginLimits;
  private lastPurgedWindow = 0;

  constructor(
    private readonly store: LoginAttemptStore,
    private readonly clock: Clock,
    limits: Partial<LoginLimits> = {},
    /** Told of every refused attempt (the api counts them in a prom-client counter by scope). */
    private readonly onRefused?: (scope: ThrottleScope) => void,
  ) {
    this.limits = Object.freeze({ ...defaultLoginLimits, ...limits });
    for (const [k, v] of Object.entries(this.limits)) {
      if (!Number.isInteger(v) || v < 1) throw new CaError("invalid-input", `login limit ${k} must be a positive whole number`, { field: `loginLimits.${k}` });
    }
  }

  /**
   * Counts this attempt; throws LoginRateLimited past either limit. `certificateFingerprint` is the
   * canonical fingerprint of the client certificate, `source` the peer address (undefined: not counted).
   * Call `release()` on the answer when the login succeeded.
   */
  async attempt(certificateFingerprint: string, source: string | undefined): Promise<{ release(): Promise<void> }> {
    const now = this.clock.now().getTime();
    const { windowMs } = this.limits;
    const start = now - (now % windowMs);
    const keys = [`certificate:${certificateFingerprint}`, ...(source === undefined ? [] : [`source:${source}`])];
    const [byCertificate = 0, bySource = 0] = await this.store.hit(keys, new Date(start));
    if (start > this.lastPurgedWindow) {
      // Once per window and process: yesterday's counters are of no use to anyone.
      this.lastPurgedWindow = start;
      await this.store.purge(new Date(start - windowMs));
    }
    const retryAfterSeconds = Math.max(1, Math.ceil((start + windowMs - now) / 1000));
    const refuse = (scope: ThrottleScope, first: boolean): LoginRateLimited => {
      this.onRefused?.(scope);
      return new LoginRateLimited(scope, retryAfterSeconds, first);
    };
    if (byCertificate > this.limits.perCertificate) throw refuse("certificate", byCertificate === this.limits.perCertificate + 1);
    if (source !== undefined && bySource > this.limits.perSource) throw refuse("source", bySource === this.limits.perSource + 1);
    return { release: () => this.store.release(keys, new Date(start)) };
  }
}
