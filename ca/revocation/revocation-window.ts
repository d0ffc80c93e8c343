import { CaError } from "../errors.js";
import type { Tx } from "../stores.js";

/**
 * Mass revocation counted per operator over a sliding window (issue 12 §3; 告示334号 第4-8(2): bulk
 * operations only with the prior approval of the responsible person). A limit per request was avoided
 * by splitting (12 serials → approval, 6 + 6 → none), so the count is the operator's manual
 * revocations and holds of the last hour, read from the database (the audit log), whatever the route,
 * the process or the node. Revocations executed through an approval do not count: they were approved.
 */
export interface RevocationWindowLimits {
  /** At most this many certificates per operator within `windowMs` without a second operator's approval. */
  readonly limit: number;
  readonly windowMs: number;
}

/** More than 10 revocations in an hour needs approval [U: the example; configurable]. */
export const defaultRevocationWindow: RevocationWindowLimits = Object.freeze({ limit: 10, windowMs: 3_600_000 });

/** The count, from the audit log (port; db/revocation-window-store.ts). */
export interface RevocationWindowStore {
  /**
   * Certificates revoked or put on hold by `actor` ("operator:<id>") at or after `since`, not counting
   * those executed through an approval. Inside `tx` it first takes a transaction-scoped lock per actor,
   * so two concurrent revocations of one operator are counted one after the other.
   */
  lockAndCount(actor: string, since: Date, tx?: Tx): Promise<number>;
}

/** How many certificates the operator may still revoke without approval now. */
export async function remainingInWindow(store: RevocationWindowStore, limits: RevocationWindowLimits, actor: string, now: Date, tx?: Tx): Promise<number> {
  const used = await store.lockAndCount(actor, new Date(now.getTime() - limits.windowMs), tx);
  return Math.max(0, limits.limit - used);
}

/** The refusal of one more revocation past the window (409: the request is valid, the state refuses it). */
export function windowExceeded(limits: RevocationWindowLimits): CaError {
  const minutes = Math.round(limits.windowMs / 60_000);
  return new CaError(
    "conflict",
    `more than ${limits.limit} revocations within ${minutes} minutes by one operator need a second operator's approval: use POST /v1/admin/revocations (CA operators), or wait`,
  );
}

/** Validates limits once (docs/design.md invariant 8). */
export function checkRevocationWindow(limits: RevocationWindowLimits): RevocationWindowLimits {
  if (!Number.isInteger(limits.limit) || limits.limit < 1) throw new CaError("invalid-input", "revocation window limit must be a positive integer", { field: "revocationWindow.limit" });
  if (!Number.isInteger(limits.windowMs) || limits.windowMs < 60_000) throw new CaError("invalid-input", "revocation window must be at least one minute", { field: "revocationWindow.windowMs" });
  return Object.freeze({ ...limits });
}
