/**
 * @packageDocumentation
 * ca/operators: the people and machines that operate the CA — who they are, how they log in, what they
 * may do, and from where.
 *
 * - operator-auth.ts: login, sessions, lockout after 3 failures, password change and expiry.
 * - login-throttle.ts: attempts limited per client certificate and address, before any hashing.
 * - password-policy.ts, password-hash.ts, common-passwords.ts: the password rules and their storage.
 * - roles.ts, workstation-roles.ts: operator and machine roles, and which roles work from which workstation.
 * - operator-admin.ts, operator-principal.ts: the security officer's administration; the authenticated operator.
 * - operating-hours.ts, terminal-access.ts, terminal-registry.ts: counter terminals — hours, enrolment, access.
 * - client-identity.ts, client-register.ts, certificate-fingerprint.ts, service-ca.ts: the internal
 *   service CA for mutual TLS, its client certificates and their register.
 * - operator-ports.ts (this file): the store ports of operators, sessions and terminals.
 */
import type { OperatingSchedule } from "./operating-hours.js";
import type { OperatorRole } from "./roles.js";
import type { Tx } from "../stores.js";

/**
 * Store ports of operator and terminal authentication. Adapters: db/operator-store.ts,
 * db/operator-session-store.ts, db/terminal-store.ts; doubles: test/support/memory-operator-stores.ts;
 * contract: test/contract/operator-stores.ts. Lockout state lives here, in the database, so it survives
 * restarts and is shared by every API node (告示334号 第4-4(8)).
 */

export interface OperatorRecord {
  readonly operatorId: string;
  readonly displayName: string | null;
  readonly roles: readonly OperatorRole[];
  /** `scrypt$N$r$p$salt$hash` (ca/operators/password-hash.ts). */
  readonly passwordHash: string;
  readonly passwordChangedAt: Date;
  /** Set for a new operator and after a reset by the security officer: change at first logon. */
  readonly mustChangePassword: boolean;
  /** Consecutive failed logins since the last success or unlock. */
  readonly failedAttempts: number;
  /** When the account was locked, or null. */
  readonly lockedAt: Date | null;
  readonly active: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /**
   * Who confirmed the account's current roles: the second security officer whose approval created it or
   * granted its roles (issue 12), "cli"/"cli:init" for the break-glass path on the CA host,
   * "migration-0020" for accounts older than the rule; null = unconfirmed, it approves nothing.
   */
  readonly confirmedBy: string | null;
  readonly confirmedAt: Date | null;
  /** Operator ids who requested a change to this account; none of them ever approves for or about it. */
  readonly sponsors: readonly string[];
}

export interface NewOperator {
  readonly operatorId: string;
  readonly displayName: string | null;
  readonly roles: readonly OperatorRole[];
  readonly passwordHash: string;
  readonly mustChangePassword: boolean;
  readonly createdAt: Date;
}

export interface OperatorStore {
  /** Inserts an active operator with no failures (passwordChangedAt = createdAt). CaError("conflict") when the id exists. */
  insert(operator: NewOperator, tx?: Tx): Promise<void>;
  get(operatorId: string, tx?: Tx): Promise<OperatorRecord | undefined>;
  /** Every operator, by id. */
  list(tx?: Tx): Promise<OperatorRecord[]>;
  /**
   * Atomically counts one failed login and locks the account (lockedAt = `at`) when the count reaches
   * `lockAfter`; an already locked account stays locked at its first lockedAt. Concurrent failures all
   * count. Returns the new state, or undefined for an unknown operator.
   */
  recordFailure(operatorId: string, at: Date, lockAfter: number, tx?: Tx): Promise<{ failedAttempts: number; lockedAt: Date | null } | undefined>;
  /** Resets the failure count after a good password, unless the account is locked. False when locked or unknown. */
  recordSuccess(operatorId: string, at: Date, tx?: Tx): Promise<boolean>;
  /** Clears the lock and the failure count. False for an unknown operator. */
  unlock(operatorId: string, at: Date, tx?: Tx): Promise<boolean>;
  /** Replaces the password hash; passwordChangedAt = `at`. CaError("not-found") for an unknown operator. */
  setPassword(operatorId: string, change: { passwordHash: string; mustChangePassword: boolean; at: Date }, tx?: Tx): Promise<void>;
  /** CaError("not-found") for an unknown operator. */
  setRoles(operatorId: string, roles: readonly OperatorRole[], at: Date, tx?: Tx): Promise<void>;
  /** CaError("not-found") for an unknown operator. */
  setActive(operatorId: string, active: boolean, at: Date, tx?: Tx): Promise<void>;
  /** Sets (or, with null, clears) who confirmed the account's roles. CaError("not-found") for an unknown operator. */
  setConfirmation(operatorId: string, confirmation: { by: string; at: Date } | null, tx?: Tx): Promise<void>;
  /** Adds operator ids to the account's sponsors (a set: no duplicates). CaError("not-found") for an unknown operator. */
  addSponsors(operatorId: string, sponsors: readonly string[], at: Date, tx?: Tx): Promise<void>;
}

export interface OperatorSessionRecord {
  /** Hex SHA-256 of the bearer token; the token itself is never stored. */
  readonly tokenHash: string;
  readonly operatorId: string;
  /** Canonical SHA-256 fingerprint of the client certificate the session was opened on. */
  readonly terminalFingerprint: string;
  readonly createdAt: Date;
  readonly lastSeenAt: Date;
  readonly endedAt: Date | null;
}

export interface NewOperatorSession {
  readonly tokenHash: string;
  readonly operatorId: string;
  readonly terminalFingerprint: string;
  readonly createdAt: Date;
}

export interface OperatorSessionStore {
  /** lastSeenAt = createdAt. CaError("conflict") on a duplicate hash, "not-found" for an unknown operator. */
  insert(session: NewOperatorSession, tx?: Tx): Promise<void>;
  get(tokenHash: string, tx?: Tx): Promise<OperatorSessionRecord | undefined>;
  /**
   * Sliding idle timeout: sets lastSeenAt = `at` only if the session is open and was last seen at or
   * after `idleSince`. Atomic, so a request racing the timeout cannot revive an expired session.
   */
  touch(tokenHash: string, at: Date, idleSince: Date, tx?: Tx): Promise<boolean>;
  /** Ends an open session (endedAt = `at`). False when unknown or already ended. */
  end(tokenHash: string, at: Date, tx?: Tx): Promise<boolean>;
  /** Ends every open session of an operator except `keep` (a token hash). Returns how many ended. */
  endAllForOperator(operatorId: string, at: Date, keep?: string, tx?: Tx): Promise<number>;
  /** Ends every open session opened on a client certificate (a revoked terminal). Returns how many ended. */
  endAllOnTerminal(terminalFingerprint: string, at: Date, tx?: Tx): Promise<number>;
}

export type TerminalStatus = "active" | "revoked";

export interface TerminalRecord {
  readonly terminalId: string;
  /** 6-digit 全国地方公共団体コード of the municipality the terminal stands in, if given. */
  readonly municipalityCode: string | null;
  /** Lower-case hex serial of its client certificate (as ClientIdentity.serial). */
  readonly clientCertSerial: string;
  /** Canonical SHA-256 fingerprint of its client certificate. */
  readonly clientCertFingerprint: string;
  readonly status: TerminalStatus;
  /** Its own hours, or null for the default schedule. */
  readonly operatingHours: OperatingSchedule | null;
  readonly enrolledAt: Date;
  readonly revokedAt: Date | null;
}

export interface NewTerminal {
  readonly terminalId: string;
  readonly municipalityCode: string | null;
  readonly clientCertSerial: string;
  readonly clientCertFingerprint: string;
  readonly operatingHours: OperatingSchedule | null;
  readonly enrolledAt: Date;
}

export interface TerminalStore {
  /**
   * Enrols a terminal (status active). A revoked terminal id may be enrolled again with a new
   * certificate (the row is replaced); an active one is CaError("conflict"), as is a certificate
   * serial already recorded.
   */
  enrol(terminal: NewTerminal, tx?: Tx): Promise<void>;
  get(terminalId: string, tx?: Tx): Promise<TerminalRecord | undefined>;
  getBySerial(clientCertSerial: string, tx?: Tx): Promise<TerminalRecord | undefined>;
  list(tx?: Tx): Promise<TerminalRecord[]>;
  /** active → revoked. False when unknown or already revoked. */
  revoke(terminalId: string, at: Date, tx?: Tx): Promise<boolean>;
  /** null = the default schedule. CaError("not-found") for an unknown terminal. */
  setOperatingHours(terminalId: string, schedule: OperatingSchedule | null, tx?: Tx): Promise<void>;
}
