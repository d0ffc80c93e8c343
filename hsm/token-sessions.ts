import * as graphene from "graphene-pk11";
import { CaError } from "../ca/errors.js";
import { ckrName, classifyPkcs11Error, Pkcs11StateError, type Pkcs11Failure } from "./pkcs11-error.js";
import type { Pkcs11Module } from "./pkcs11-module.js";
import { SessionPool } from "./session-pool.js";

/** A logged-in session of the pool, with the object handles found through it. */
export interface TokenSession {
  readonly session: graphene.Session;
  /** Module epoch the session was opened in; handles of an older epoch are dead. */
  readonly epoch: number;
  /** Object handles cached per session (key: KeyRef.cacheKey); cleared when a handle goes stale. */
  readonly objects: Map<string, graphene.PrivateKey>;
  /** Value of `suspicion` when the session was last known good. */
  checked: number;
  /** The handle is known to be invalid: never pass it to C_CloseSession. */
  dead: boolean;
}

/** Error counters and the in-use gauge (a subset of HsmMetrics). */
export interface TokenSessionsMetrics {
  setSessionsInUse(n: number): void;
  incError(kind: string): void;
}

export interface TokenSessionsOptions {
  readonly poolSize: number;
  /** Attempts per operation, first try included. */
  readonly maxAttempts: number;
  readonly acquireTimeoutMs?: number;
  readonly metrics?: TokenSessionsMetrics;
}

/** Least time between two library re-initializations looking for a missing token. */
const TOKEN_RESCAN_MS = 1000;

// PKCS#11 v2.40 §5.6 CK_STATE: CKS_RO_USER_FUNCTIONS (1) and CKS_RW_USER_FUNCTIONS (3) are the
// states with the normal user logged in (pkcs11js exports no CKS_ constants).
const loggedInStates: ReadonlySet<number> = new Set([1, 3]);

/**
 * Logged-in sessions on one token, and the recovery that keeps them working without a restart:
 * a failed call is classified (see {@link Pkcs11Failure}); the session is dropped or kept, the
 * application re-logs in, keys are re-found, the library is re-initialized when it was finalized
 * or the device failed; then the operation is tried again, at most `maxAttempts` times in all,
 * before it fails with CaError("unavailable").
 *
 * The PIN is kept in memory only; it never appears in a message. After the token refuses the PIN
 * we stop logging in (every retry would burn one of the token's PIN attempts).
 */
export class TokenSessions {
  private readonly pool: SessionPool<TokenSession>;
  /** Raised when sessions may have been closed or logged out behind our back. */
  private suspicion = 0;
  private recovery: Promise<void> | undefined;
  private pinRefused: string | undefined;
  private closed = false;
  private lastRescan = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly module: Pkcs11Module,
    readonly tokenLabel: string,
    private readonly pin: string,
    private readonly options: TokenSessionsOptions,
  ) {
    this.pool = new SessionPool<TokenSession>(
      {
        create: async () => this.openSession(),
        destroy: (s) => this.closeSession(s),
        validate: (s) => this.stillGood(s),
      },
      {
        size: options.poolSize,
        ...(options.acquireTimeoutMs !== undefined ? { acquireTimeoutMs: options.acquireTimeoutMs } : {}),
        onInUseChange: (n) => options.metrics?.setSessionsInUse(n),
      },
    );
  }

  get sessionsInUse(): number {
    return this.pool.inUse;
  }
  get sessionsOpen(): number {
    return this.pool.open;
  }

  /**
   * Runs `op` on a logged-in session of its own (one operation per session), recovering and
   * retrying as described on the class. Errors that are not PKCS#11 session/login/module/device
   * failures (a CaError from `op`, a bad mechanism) are passed on without retry.
   */
  async run<R>(what: string, op: (s: TokenSession) => Promise<R> | R): Promise<R> {
    let last: unknown;
    for (let attempt = 1; attempt <= this.options.maxAttempts; attempt++) {
      const epoch = this.module.epoch;
      let s: TokenSession;
      try {
        s = await this.pool.acquire();
      } catch (e) {
        last = e;
        if (!(await this.recover(classifyPkcs11Error(e), epoch, e))) throw this.wrap(what, e);
        continue;
      }
      try {
        const result = await op(s);
        this.pool.release(s);
        return result;
      } catch (e) {
        last = e;
        const failure = classifyPkcs11Error(e);
        this.settle(s, failure, ckrName(e));
        if (!(await this.recover(failure, s.epoch, e))) throw this.wrap(what, e);
      }
    }
    throw new CaError(
      "unavailable",
      `HSM ${what} failed after ${this.options.maxAttempts} attempts (${ckrName(last) ?? describeError(last)})`,
      { cause: last },
    );
  }

  /** Opens a session and checks it end to end (session info, token info): the health probe. */
  async probe(): Promise<string> {
    return this.run("health probe", (s) => {
      const info = this.module.lib.C_GetSessionInfo(s.session.handle);
      if (!loggedInStates.has(info.state)) throw new Pkcs11StateError("login", "session is not logged in");
      const token = s.session.slot.getToken();
      return `token "${this.tokenLabel}" (${token.model.trim()}, serial ${token.serialNumber.trim()}) ready`;
    });
  }

  /** Closes every session (waits for operations in flight). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }

  /** Gives the session back after a failure of class `failure`. */
  private settle(s: TokenSession, failure: Pkcs11Failure, code: string | undefined): void {
    switch (failure) {
      case "object":
        s.objects.clear();
        this.pool.release(s);
        return;
      case "session":
      case "module":
      case "device":
        // Close what still exists (an operation left active, a device error); never a handle that
        // is already gone: its number may belong to a new session by now.
        s.dead = failure === "module" || code === "CKR_SESSION_HANDLE_INVALID" || code === "CKR_SESSION_CLOSED";
        this.suspicion++;
        this.pool.discard(s);
        return;
      case "login":
      case "pin":
        this.suspicion++;
        this.pool.discard(s);
        return;
      default:
        this.pool.release(s);
    }
  }

  /** Repairs what `failure` broke; false when the failure must not be retried. */
  private async recover(failure: Pkcs11Failure, epochSeen: number, e: unknown): Promise<boolean> {
    if (this.closed) return false;
    switch (failure) {
      case "session":
      case "login":
      case "object":
        this.options.metrics?.incError(failure);
        return true; // the next attempt validates idle sessions, opens and logs in afresh, re-finds keys
      case "module":
      case "device":
        this.options.metrics?.incError(failure);
        await this.reinitialize(epochSeen, failure === "device");
        return true;
      case "token-missing":
        // SoftHSM (and other libraries) enumerate tokens only at C_Initialize: a token that was away
        // when the library was last initialized stays invisible until the next one. Rescan (at most once
        // a second) so the token is found again when it is back; this call still fails (503).
        this.options.metrics?.incError(failure);
        if (Date.now() - this.lastRescan >= TOKEN_RESCAN_MS) {
          this.lastRescan = Date.now();
          await this.reinitialize(this.module.epoch, true);
        }
        return false;
      default:
        // Count PIN trouble and PKCS#11 errors; a CaError of the operation itself (key absent) is no HSM error.
        if (failure !== "other" || ckrName(e)) this.options.metrics?.incError(failure);
        return false;
    }
  }

  /**
   * Re-initializes the library once per failure epoch: concurrent failures share one recovery.
   * Waits until no session is in use (C_Finalize under a running C_Sign is undefined behaviour).
   */
  private reinitialize(epochSeen: number, finalizeFirst: boolean): Promise<void> {
    if (this.module.epoch !== epochSeen) return Promise.resolve(); // someone already did it
    if (!this.recovery) {
      this.recovery = this.pool
        .exclusive(() => {
          if (this.module.epoch !== epochSeen) return;
          this.module.reinitialize(finalizeFirst);
          this.pool.destroyIdle(); // their epoch is stale: destroy() will not touch the handles
        })
        .finally(() => {
          this.recovery = undefined;
        });
    }
    return this.recovery;
  }

  private async openSession(): Promise<TokenSession> {
    if (this.pinRefused) {
      throw new Pkcs11StateError("pin", `token "${this.tokenLabel}" refused the PIN earlier (${this.pinRefused}); not retrying`);
    }
    const epoch = this.module.epoch;
    const slot = this.module.findSlot(this.tokenLabel);
    if (!slot) {
      const present = this.module
        .tokens()
        .filter((t) => t.label !== "") // an uninitialized (free) slot
        .map((t) => `"${t.label}"`);
      throw new Pkcs11StateError(
        "token-missing",
        `PKCS#11 token "${this.tokenLabel}" not found (tokens present: ${present.join(", ") || "none"})`,
      );
    }
    const session = slot.open(graphene.SessionFlag.SERIAL_SESSION | graphene.SessionFlag.RW_SESSION);
    try {
      session.login(this.pin, graphene.UserType.USER);
    } catch (e) {
      const name = ckrName(e);
      if (name !== "CKR_USER_ALREADY_LOGGED_IN") {
        try {
          session.close();
        } catch {
          // the session is useless either way
        }
        if (classifyPkcs11Error(e) === "pin") {
          this.pinRefused = name;
          throw new Pkcs11StateError("pin", `token "${this.tokenLabel}" refused the PIN (${name}); not retrying`);
        }
        throw e;
      }
    }
    return { session, epoch, objects: new Map(), checked: this.suspicion, dead: false };
  }

  private stillGood(s: TokenSession): boolean {
    if (s.epoch !== this.module.epoch) {
      s.dead = true;
      return false;
    }
    if (s.checked === this.suspicion) return true;
    try {
      const info = this.module.lib.C_GetSessionInfo(s.session.handle);
      if (!loggedInStates.has(info.state)) return false;
    } catch {
      s.dead = true;
      return false;
    }
    s.checked = this.suspicion;
    return true;
  }

  private closeSession(s: TokenSession): void {
    s.objects.clear();
    if (s.dead || s.epoch !== this.module.epoch) return;
    try {
      this.module.lib.C_CloseSession(s.session.handle);
    } catch {
      // already gone
    }
  }

  private wrap(what: string, e: unknown): unknown {
    if (e instanceof CaError) return e;
    const name = ckrName(e);
    if (name) return new CaError("internal", `HSM ${what} failed: ${name}`, { cause: e });
    return e;
  }
}

function describeError(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
