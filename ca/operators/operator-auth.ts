import { normalizeFingerprint } from "./certificate-fingerprint.js";
import { CaError } from "../errors.js";
import type { OperatorRecord, OperatorSessionStore, OperatorStore } from "./operator-ports.js";
import { actorName, assertActorRole, type Actor, type OperatorPrincipal } from "./operator-principal.js";
import { LoginRateLimited, type LoginThrottle } from "./login-throttle.js";
import { BoundedPasswordHasher, ScryptPasswordHasher, type PasswordHasher } from "./password-hash.js";
import { assertPasswordAcceptable, defaultPasswordPolicy, generatePassword, normalizePassword, type PasswordPolicy } from "./password-policy.js";
import type { Clock, Random } from "../ports.js";
import { sha256Hex } from "../sha256.js";
import { parseOperatorRoles } from "./roles.js";
import type { AuditStore, TransactionRunner, Tx } from "../stores.js";
import { usableRoles } from "./workstation-roles.js";

/**
 * Operator authentication (docs/domain.md §6; 告示334号 第4-4(2),(5),(6),(8); 久御山町 規程 第18条, 第20条の2):
 * individual passwords, lockout after 3 consecutive failures, expiring passwords changed at first
 * logon, sessions that lapse after inactivity and only work on the terminal certificate they were
 * opened on, and every logon event in the audit log (without password material).
 */
export interface OperatorAuthSettings {
  /** Consecutive failures that lock the account (告示334号 第4-4(8)); default 3. */
  readonly maxFailedAttempts: number;
  /** Sliding idle timeout; default 15 minutes (新宿区 資料: terminals lock after inactivity). */
  readonly idleTimeoutMs: number;
  /**
   * A request slides the session (a write on its row) only when the last slide is older than this;
   * default 10 s. The session then expires up to this much earlier than a slide on every request
   * would make it, never later; `expiresAt` tells the real end.
   */
  readonly touchEveryMs: number;
  readonly passwordPolicy: PasswordPolicy;
}

export const defaultOperatorAuthSettings: OperatorAuthSettings = Object.freeze({
  maxFailedAttempts: 3,
  idleTimeoutMs: 15 * 60 * 1000,
  touchEveryMs: 10_000,
  passwordPolicy: defaultPasswordPolicy,
});

export interface OperatorAuthDeps {
  readonly operators: OperatorStore;
  readonly sessions: OperatorSessionStore;
  readonly audit: Pick<AuditStore, "append">;
  readonly transactions: TransactionRunner;
  readonly clock: Clock;
  readonly random: Random;
  /**
   * Default: scrypt with the default parameters behind a BoundedPasswordHasher (2 at once, 16 waiting),
   * so a login flood cannot take the thread pool from signing, the database driver or health checks.
   */
  readonly passwords?: PasswordHasher;
  /** Login attempts per client certificate and source (ca/operators/login-throttle.ts); none when absent. */
  readonly throttle?: LoginThrottle;
  readonly settings?: Partial<OperatorAuthSettings>;
}

/** The client certificate a login comes through: its CN and its SHA-256 fingerprint (any case, colons allowed). */
export interface TerminalBinding {
  readonly id: string;
  readonly fingerprint: string;
  /**
   * The certificate's machine role (OU): "terminal" or "admin". The API always gives it: an operator
   * logs in only where one of their roles may be used (ca/operators/workstation-roles.ts), and failures from
   * elsewhere never count towards their lockout. Absent (the local CLI, older tests): no binding.
   */
  readonly kind?: string;
}

export interface LoginResult {
  /** The bearer token; only its SHA-256 is stored. */
  readonly token: string;
  readonly expiresAt: Date;
  readonly mustChangePassword: boolean;
}

export interface NewOperatorInput {
  readonly operatorId: string;
  readonly roles: readonly string[];
  readonly displayName?: string | null;
  /** Checked against the policy; when absent a random one-time password is generated and returned. */
  readonly password?: string;
  /** Demo only: no forced change at first logon. */
  readonly ready?: boolean;
}

export interface NewOperatorResult {
  readonly operatorId: string;
  readonly roles: readonly string[];
  readonly mustChangePassword: boolean;
  /** The generated password, to hand over once; absent when the caller gave one. */
  readonly oneTimePassword?: string;
}

/**
 * One answer for an unknown operator, a wrong password, an inactive or locked account and an operator
 * who may not work on this kind of workstation: nothing tells whether an id exists or is locked (issue
 * 12). The operator learns of a lock from this text and from the security officer, who sees it (GET
 * /v1/admin/operators, the anomaly log and its metric).
 */
const BAD_CREDENTIALS = "operator id or password is wrong, or the account may not log in here or is locked (after 3 failed attempts: ask the security officer)";
const LOCKED = "account locked after repeated failed logins (告示334号 第4-4(8)): ask the security officer to unlock it";
const INVALID_SESSION = "no valid operator session: log in again";
const OPERATOR_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const DAY_MS = 86_400_000;

/** Hex SHA-256 of a bearer token: the session's key in the store. */
export const tokenHash = (token: string): string => sha256Hex(token);

export class OperatorAuth {
  readonly settings: OperatorAuthSettings;
  private readonly passwords: PasswordHasher;
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly deps: OperatorAuthDeps) {
    this.settings = Object.freeze({ ...defaultOperatorAuthSettings, ...deps.settings });
    if (!Number.isInteger(this.settings.maxFailedAttempts) || this.settings.maxFailedAttempts < 1) {
      throw new CaError("invalid-input", "maxFailedAttempts must be a positive integer", { field: "maxFailedAttempts" });
    }
    this.passwords = deps.passwords ?? new BoundedPasswordHasher(new ScryptPasswordHasher(deps.random));
    // Made now, so the first unknown id does not take two hashes' time.
    this.dummy().catch(() => {
      this.dummyHash = undefined;
    });
  }

  /**
   * Opens a session. Past the throttle's limits for this certificate or source: LoginRateLimited (429,
   * before any hash). Otherwise every refusal is the same CaError "unauthenticated" (401, one message)
   * after exactly one password hash: an unknown operator, a wrong password, an inactive or locked
   * account (even with the right password, and the failure that locks it), and an operator none of whose
   * roles may be used on this kind of workstation (ca/operators/workstation-roles.ts). Only failures from a kind of
   * workstation the operator may use count towards the lockout: a counter terminal cannot lock out a
   * security officer. The audit log tells the cases apart for the security officer.
   */
  async login(input: { operatorId: string; password: string; terminal: TerminalBinding; source?: string }): Promise<LoginResult> {
    const now = this.deps.clock.now();
    const fingerprint = normalizeFingerprint(input.terminal.fingerprint);
    const kind = input.terminal.kind;
    const base = { at: now, action: "operator.login", detail: { terminal: input.terminal.id, ...(kind === undefined ? {} : { client: { role: kind, id: input.terminal.id } }) } };
    let attempt: { release(): Promise<void> } | undefined;
    if (this.deps.throttle) {
      try {
        attempt = await this.deps.throttle.attempt(fingerprint, input.source);
      } catch (err) {
        // One audit entry per window and key, not one per refused attempt: a flood must not flood the log.
        if (err instanceof LoginRateLimited && err.firstRefusal) {
          await this.deps.audit.append({ ...base, actor: kind === undefined ? `client:${input.terminal.id}` : `${kind}:${input.terminal.id}`, subject: null, outcome: "denied", detail: { ...base.detail, reason: "rate-limited", scope: err.scope } });
        }
        throw err;
      }
    }
    const op = OPERATOR_ID.test(input.operatorId) ? await this.deps.operators.get(input.operatorId) : undefined;
    // Exactly one hash on every path, before any answer: the time does not tell the cases apart.
    const passwordOk = await this.passwords.verify(input.password, op?.passwordHash ?? (await this.dummy()));
    if (op === undefined) {
      // The attempted id may be a mistyped password: record only a short hash, enough to see repeats.
      const attempted = sha256Hex(input.operatorId).slice(0, 16);
      await this.deps.audit.append({ ...base, actor: "unknown-operator", subject: null, outcome: "failure", detail: { ...base.detail, reason: "unknown-operator", attemptedIdSha256: attempted } });
      throw new CaError("unauthenticated", BAD_CREDENTIALS);
    }
    const actor = `operator:${op.operatorId}`;
    const subject = `operator:${op.operatorId}`;
    if (op.lockedAt !== null) {
      await this.deps.audit.append({ ...base, actor, subject, outcome: "denied", detail: { ...base.detail, reason: "locked" } });
      throw new CaError("unauthenticated", BAD_CREDENTIALS);
    }
    if (!op.active) {
      await this.deps.audit.append({ ...base, actor, subject, outcome: "failure", detail: { ...base.detail, reason: "inactive" } });
      throw new CaError("unauthenticated", BAD_CREDENTIALS);
    }
    if (kind !== undefined && usableRoles(op.roles, kind).length === 0) {
      // Not counted towards the lockout, whatever the password: from here the operator cannot work anyway.
      await this.deps.audit.append({ ...base, actor, subject, outcome: "denied", detail: { ...base.detail, reason: "role-not-usable-on-this-workstation-kind" } });
      throw new CaError("unauthenticated", BAD_CREDENTIALS);
    }
    if (!passwordOk) {
      await this.countFailure(op, now, "operator.login", { ...base.detail, reason: "wrong-password" });
      throw new CaError("unauthenticated", BAD_CREDENTIALS);
    }
    const token = Buffer.from(this.deps.random.bytes(32)).toString("base64url");
    const mustChangePassword = this.passwordChangeDue(op, now);
    await this.deps.transactions.transaction(async (tx) => {
      // Conditional reset: a lock set by a concurrent failure wins over this success.
      if (!(await this.deps.operators.recordSuccess(op.operatorId, now, tx))) throw new CaError("unauthenticated", BAD_CREDENTIALS);
      await this.deps.sessions.insert({ tokenHash: tokenHash(token), operatorId: op.operatorId, terminalFingerprint: fingerprint, createdAt: now }, tx);
      await this.deps.audit.append({ ...base, actor, subject, outcome: "success", detail: { ...base.detail, mustChangePassword } }, tx);
    });
    // A success is not a guess: give its count back (ca/operators/login-throttle.ts).
    await attempt?.release();
    return { token, expiresAt: new Date(now.getTime() + this.settings.idleTimeoutMs), mustChangePassword };
  }

  /**
   * The operator of a bearer token presented with the client certificate `terminalFingerprint`.
   * CaError "unauthenticated" when the session is unknown or ended, was opened on another certificate
   * (the same answer as an unknown token: nothing confirms a token is real), has been idle longer than
   * the timeout ("session expired"), or its operator is locked or inactive. Slides the idle timeout. An
   * idle time of exactly the timeout is still valid. With `kind` (the certificate's machine role), the
   * principal carries only the roles usable on that kind of workstation (ca/operators/workstation-roles.ts).
   */
  async authenticate(token: string, terminalFingerprint: string, kind?: string): Promise<OperatorPrincipal> {
    if (typeof token !== "string" || !TOKEN.test(token)) throw new CaError("unauthenticated", INVALID_SESSION);
    const hash = tokenHash(token);
    const session = await this.deps.sessions.get(hash);
    if (session === undefined || session.endedAt !== null) throw new CaError("unauthenticated", INVALID_SESSION);
    // docs/api.md §4: a token from one terminal does not work on another.
    if (session.terminalFingerprint !== normalizeFingerprint(terminalFingerprint)) {
      throw new CaError("unauthenticated", INVALID_SESSION);
    }
    const now = this.deps.clock.now();
    const idleSince = new Date(now.getTime() - this.settings.idleTimeoutMs);
    if (session.lastSeenAt < idleSince) throw new CaError("unauthenticated", "session expired: log in again");
    const op = await this.deps.operators.get(session.operatorId);
    if (op === undefined || !op.active || op.lockedAt !== null) throw new CaError("unauthenticated", INVALID_SESSION);
    // A terminal sends several requests a minute: the session row is written at most every touchEveryMs.
    const slide = session.lastSeenAt.getTime() <= now.getTime() - this.settings.touchEveryMs;
    if (slide && !(await this.deps.sessions.touch(hash, now, idleSince))) throw new CaError("unauthenticated", "session expired: log in again");
    const lastSeen = slide ? now : session.lastSeenAt;
    return {
      operatorId: op.operatorId,
      roles: kind === undefined ? op.roles : usableRoles(op.roles, kind),
      mustChangePassword: this.passwordChangeDue(op, now),
      sessionTokenHash: hash,
      terminalFingerprint: session.terminalFingerprint,
      expiresAt: new Date(lastSeen.getTime() + this.settings.idleTimeoutMs),
    };
  }

  /** Ends the session (log off after each job, 新宿区 資料). */
  async logout(principal: OperatorPrincipal): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.transactions.transaction(async (tx) => {
      await this.deps.sessions.end(principal.sessionTokenHash, now, tx);
      await this.audit(tx, now, "operator.logout", principal, principal.operatorId, "success", {});
    });
  }

  /**
   * Changes the operator's own password: the current one must match (a wrong one counts towards the
   * lockout, so a stolen session cannot guess it), the new one must pass the policy and differ from
   * the current one. Ends the operator's other sessions. CaError "forbidden" (field currentPassword)
   * or "locked" for a wrong current password, "unprocessable" (field newPassword) for a refused new one.
   */
  async changePassword(principal: OperatorPrincipal, currentPassword: string, newPassword: string): Promise<void> {
    const now = this.deps.clock.now();
    const op = await this.deps.operators.get(principal.operatorId);
    if (op === undefined) throw new CaError("unauthenticated", INVALID_SESSION);
    if (!(await this.passwords.verify(currentPassword, op.passwordHash))) {
      const lockedNow = await this.countFailure(op, now, "operator.password.change", { reason: "wrong-current-password" });
      if (lockedNow) throw new CaError("locked", LOCKED);
      throw new CaError("forbidden", "current password is wrong", { field: "currentPassword" });
    }
    assertPasswordAcceptable(newPassword, { operatorId: op.operatorId }, this.settings.passwordPolicy, "newPassword");
    if (normalizePassword(newPassword) === normalizePassword(currentPassword)) {
      throw new CaError("unprocessable", "new password must differ from the current password", { field: "newPassword" });
    }
    const passwordHash = await this.passwords.hash(newPassword);
    await this.deps.transactions.transaction(async (tx) => {
      await this.deps.operators.setPassword(op.operatorId, { passwordHash, mustChangePassword: false, at: now }, tx);
      await this.deps.operators.recordSuccess(op.operatorId, now, tx);
      const ended = await this.deps.sessions.endAllForOperator(op.operatorId, now, principal.sessionTokenHash, tx);
      await this.audit(tx, now, "operator.password.changed", principal, op.operatorId, "success", { otherSessionsEnded: ended });
    });
  }

  /** Clears a lockout (security officer only). CaError "not-found" for an unknown operator. */
  async unlock(actor: Actor, operatorId: string): Promise<void> {
    assertActorRole(actor, "security-officer");
    const now = this.deps.clock.now();
    await this.deps.transactions.transaction(async (tx) => {
      const before = await this.deps.operators.get(operatorId, tx);
      if (before === undefined || !(await this.deps.operators.unlock(operatorId, now, tx))) throw new CaError("not-found", "operator not found");
      await this.audit(tx, now, "operator.unlocked", actor, operatorId, "success", { wasLocked: before.lockedAt !== null, failedAttempts: before.failedAttempts });
    });
  }

  /**
   * Registers an operator (security officer only). Roles are checked for separation of duties. Without
   * a password, a random one that passes the policy is generated and returned once. The operator must
   * change it at first logon unless `ready` (demo only).
   */
  async addOperator(actor: Actor, input: NewOperatorInput): Promise<NewOperatorResult> {
    assertActorRole(actor, "security-officer");
    if (!OPERATOR_ID.test(input.operatorId)) {
      throw new CaError("invalid-input", "operator id must be 1–64 of [A-Za-z0-9._-], starting with a letter or digit", { field: "operatorId" });
    }
    const roles = parseOperatorRoles(input.roles);
    const policy = this.settings.passwordPolicy;
    if (input.password !== undefined) assertPasswordAcceptable(input.password, { operatorId: input.operatorId }, policy, "password");
    const oneTimePassword = input.password === undefined ? generatePassword(this.deps.random, input.operatorId, policy) : undefined;
    const passwordHash = await this.passwords.hash(input.password ?? oneTimePassword!);
    const mustChangePassword = input.ready !== true;
    const now = this.deps.clock.now();
    await this.deps.transactions.transaction(async (tx) => {
      await this.deps.operators.insert({ operatorId: input.operatorId, displayName: input.displayName ?? null, roles, passwordHash, mustChangePassword, createdAt: now }, tx);
      await this.audit(tx, now, "operator.added", actor, input.operatorId, "success", { roles, passwordGenerated: oneTimePassword !== undefined, mustChangePassword });
    });
    return oneTimePassword === undefined ? { operatorId: input.operatorId, roles, mustChangePassword } : { operatorId: input.operatorId, roles, mustChangePassword, oneTimePassword };
  }

  /** Replaces an operator's roles (security officer only; separation of duties checked). */
  async setRoles(actor: Actor, operatorId: string, roles: readonly string[]): Promise<void> {
    assertActorRole(actor, "security-officer");
    const parsed = parseOperatorRoles(roles);
    const now = this.deps.clock.now();
    await this.deps.transactions.transaction(async (tx) => {
      await this.deps.operators.setRoles(operatorId, parsed, now, tx);
      await this.audit(tx, now, "operator.roles.changed", actor, operatorId, "success", { roles: parsed });
    });
  }

  /** True when the operator must change the password before doing anything else. */
  passwordChangeDue(op: Pick<OperatorRecord, "mustChangePassword" | "passwordChangedAt">, now: Date): boolean {
    return op.mustChangePassword || now.getTime() - op.passwordChangedAt.getTime() >= this.settings.passwordPolicy.maxAgeDays * DAY_MS;
  }

  /**
   * Counts a failure and audits it (and the lockout it causes) in one transaction. True when the
   * account is now locked; the failure that reaches the limit also ends the operator's sessions and
   * writes "operator.locked".
   */
  private async countFailure(op: OperatorRecord, now: Date, action: string, detail: Record<string, unknown>): Promise<boolean> {
    const actor = `operator:${op.operatorId}`;
    return this.deps.transactions.transaction(async (tx) => {
      const state = await this.deps.operators.recordFailure(op.operatorId, now, this.settings.maxFailedAttempts, tx);
      const failedAttempts = state?.failedAttempts ?? 0;
      await this.deps.audit.append({ at: now, action, actor, subject: actor, outcome: "failure", detail: { ...detail, failedAttempts } }, tx);
      if (failedAttempts === this.settings.maxFailedAttempts) {
        await this.deps.sessions.endAllForOperator(op.operatorId, now, undefined, tx);
        await this.deps.audit.append({ at: now, action: "operator.locked", actor: "system", subject: actor, outcome: "success", detail: { failedAttempts } }, tx);
      }
      return (state?.lockedAt ?? null) !== null;
    });
  }

  private async audit(tx: Tx, at: Date, action: string, actor: Actor, operatorId: string, outcome: "success" | "failure" | "denied", detail: Record<string, unknown>): Promise<void> {
    await this.deps.audit.append({ at, action, actor: actorName(actor), subject: `operator:${operatorId}`, outcome, detail }, tx);
  }

  /** A hash of a random password with the same parameters, verified against for unknown ids. */
  private dummy(): Promise<string> {
    this.dummyHash ??= this.passwords.hash(Buffer.from(this.deps.random.bytes(18)).toString("base64url"));
    return this.dummyHash;
  }
}
