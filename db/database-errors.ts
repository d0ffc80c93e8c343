import { CaError } from "../ca/errors.js";
import { PUBLIC_KEY_IN_USE } from "../ca/stores.js";
import { LIVE_PUBLIC_KEY_INDEX } from "./migrations/0015-live-public-key-unique.js";

/**
 * PostgreSQL SQLSTATE handling, identical on pg and PGlite (both surface `code`; PGlite's error class
 * name is minified, so never test `instanceof` or `name`).
 */

/** SQLSTATE 23505 unique_violation. */
export const UNIQUE_VIOLATION = "23505";
/** SQLSTATE 23503 foreign_key_violation. */
export const FOREIGN_KEY_VIOLATION = "23503";

/** The SQLSTATE of a driver error, if any. */
export function sqlState(err: unknown): string | undefined {
  if (err !== null && typeof err === "object" && "code" in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/** The constraint (or unique index) a violation names, if any (pg and PGlite both report it). */
export function constraintOf(err: unknown): string | undefined {
  const c = err !== null && typeof err === "object" && "constraint" in err ? (err as { constraint: unknown }).constraint : undefined;
  return typeof c === "string" ? c : undefined;
}

/** A unique violation of certificates_live_public_key_uniq (migration 0015) as the stores' conflict. */
export function publicKeyInUse(err: unknown): CaError | undefined {
  return sqlState(err) === UNIQUE_VIOLATION && constraintOf(err) === LIVE_PUBLIC_KEY_INDEX ? new CaError("conflict", PUBLIC_KEY_IN_USE, { cause: err }) : undefined;
}

/**
 * Runs a write and maps constraint violations to typed errors: unique → conflict, foreign key →
 * not-found. `what` names the thing (never a value: messages carry no personal data, invariant 6).
 */
export async function mapConstraintErrors<T>(what: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    const state = sqlState(err);
    if (state === UNIQUE_VIOLATION) throw new CaError("conflict", `${what} already exists`, { cause: err });
    if (state === FOREIGN_KEY_VIOLATION) throw new CaError("not-found", `${what} refers to a missing record`, { cause: err });
    throw err;
  }
}
