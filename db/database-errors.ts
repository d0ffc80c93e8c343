import { CaError } from "../ca/errors.js";
import { LIVE_PUBLIC_KEY_INDEX } from "./migrations/0015-live-public-key-unique.js";
import { BLOCKED_KEY_CONSTRAINT, CERTIFIED_KEY_CONSTRAINT } from "./migrations/0019-blocked-keys.js";
import { IdempotencyKeyInUseError, PublicKeyInUseError, PublicKeyRefusedError } from "../ca/issuance/issuance-ports.js";

/**
 * PostgreSQL SQLSTATE handling, identical on pg and PGlite (both surface `code`; PGlite's error class
 * name is minified, so never test `instanceof` or `name`).
 */

/** SQLSTATE 23505 unique_violation. */
export const UNIQUE_VIOLATION = "23505";
/** SQLSTATE 23503 foreign_key_violation. */
export const FOREIGN_KEY_VIOLATION = "23503";
/** SQLSTATE 23514 check_violation (also raised by the key triggers of migration 0019). */
export const CHECK_VIOLATION = "23514";

/** The SQLSTATE of a driver error, if any. */
export function sqlState(err: unknown): string | undefined {
  if (err !== null && typeof err === "object" && "code" in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/** A text field a constraint violation reports (`table`, `constraint`); pg and PGlite both set them. */
function violationField(err: unknown, field: "table" | "constraint" | "detail"): string | undefined {
  const v = err !== null && typeof err === "object" && field in err ? (err as Record<string, unknown>)[field] : undefined;
  return typeof v === "string" ? v : undefined;
}

/**
 * Runs a write and maps constraint violations to typed errors: unique → conflict, foreign key →
 * not-found. `what` names the thing (never a value: messages carry no personal data, invariant 6),
 * or says it from the table the violation names (a statement writing several tables). A second live
 * certificate for one key (certificates_live_public_key_uniq, migration 0015) is the rule's own
 * conflict, PublicKeyInUseError (PUBLIC_KEY_IN_USE), whatever wrote it; a second issuance with one
 * (terminal, Idempotency-Key) is IdempotencyKeyInUseError (typed: the service replays on it).
 */
export async function mapConstraintErrors<T>(what: string | ((table: string | undefined) => string), write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    const state = sqlState(err);
    if (state === UNIQUE_VIOLATION && violationField(err, "constraint") === LIVE_PUBLIC_KEY_INDEX) throw new PublicKeyInUseError({ cause: err });
    // Migration 0019: a blocked key, or one in a revoked certificate; DETAIL is the key hash (no personal data).
    if (state === CHECK_VIOLATION) {
      const constraint = violationField(err, "constraint");
      const rule = constraint === BLOCKED_KEY_CONSTRAINT ? "blocked" : constraint === CERTIFIED_KEY_CONSTRAINT ? "certified-before" : undefined;
      if (rule !== undefined) throw new PublicKeyRefusedError(rule, violationField(err, "detail"), { cause: err });
    }
    if (state === UNIQUE_VIOLATION && violationField(err, "table") === "issuances") throw new IdempotencyKeyInUseError({ cause: err });
    const name = typeof what === "string" ? what : what(violationField(err, "table"));
    if (state === UNIQUE_VIOLATION) throw new CaError("conflict", `${name} already exists`, { cause: err });
    if (state === FOREIGN_KEY_VIOLATION) throw new CaError("not-found", `${name} refers to a missing record`, { cause: err });
    throw err;
  }
}

/**
 * Errors that mean "the database cannot serve us right now" (issue 14 item 3): the request should be
 * retried later (503 + Retry-After), not reported as a bug (500). Socket errors while connecting or
 * talking; SQLSTATE class 08 (connection exception), 57P01–57P03 (admin/crash shutdown, cannot connect
 * now: a restarting server), class 53 (insufficient resources: 53100 disk_full, 53200 out of memory,
 * 53300 too many connections), 58030 io_error, 25006 read_only_sql_transaction (a write reaching a
 * standby during a failover); pg's "Connection terminated …" (no code) and knex's pool acquire timeout.
 */
const UNAVAILABLE_SOCKET_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);
const UNAVAILABLE_SQLSTATES: ReadonlySet<string> = new Set(["57P01", "57P02", "57P03", "58030", "25006"]);
// knex puts the SQL in front of a driver error's message ("<sql> - Connection terminated unexpectedly"): not anchored.
const UNAVAILABLE_MESSAGES = [/\bConnection terminated\b/, /\bConnection ended unexpectedly\b/, /\bTimeout acquiring a connection\b/, /\bClient has encountered a connection error\b/, /\bClient was closed and is not queryable\b/];

/** Whether one error (not its causes) says the database is unavailable. */
function unavailableItself(err: object): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") {
    if (UNAVAILABLE_SOCKET_CODES.has(code)) return true;
    const state = sqlState(err);
    if (state !== undefined && (state.startsWith("08") || state.startsWith("53") || UNAVAILABLE_SQLSTATES.has(state))) return true;
  }
  const message = (err as { message?: unknown }).message;
  return typeof message === "string" && UNAVAILABLE_MESSAGES.some((re) => re.test(message));
}

/**
 * Whether `err` — or an error it wraps (`cause`, or the `errors` of an AggregateError, which Node's
 * connect raises when a host name resolves to several addresses) — means the database is unavailable.
 */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (err === null || typeof err !== "object" || depth > 5) return false;
  if (unavailableItself(err)) return true;
  const nested = (err as { errors?: unknown }).errors;
  if (Array.isArray(nested) && nested.some((e) => isDatabaseUnavailable(e, depth + 1))) return true;
  return isDatabaseUnavailable((err as { cause?: unknown }).cause, depth + 1);
}

/**
 * The one mapping of a driver failure to the service's vocabulary: CaError("unavailable") when the
 * database is unavailable (the message names no value: invariant 6), else `err` unchanged.
 */
export function asDatabaseUnavailable(err: unknown): unknown {
  if (err instanceof CaError || !isDatabaseUnavailable(err)) return err;
  const state = sqlState(err);
  const what = state?.startsWith("53") || state === "58030" ? "database out of resources (disk, memory or connections)" : "database not reachable";
  return new CaError("unavailable", `${what}; retry later`, { cause: err });
}
