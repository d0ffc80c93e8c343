import { CaError } from "../ca/errors.js";
import type { CaGeneration, CaKind } from "../ca/types.js";

/**
 * CRL configuration, validated once at start-up into a frozen object (docs/design.md invariant 8). The config
 * loader passes the raw `crl` section (or nothing, for the defaults) to `parseCrlSettings`; a bad value
 * throws CaError("invalid-input") naming the field, e.g. `crl.validitySeconds`.
 */
export interface CrlSettings {
  /** nextUpdate − thisUpdate of full CRLs. At most 24 h (docs/domain.md §4, our rule). Default 24 h. */
  readonly validitySeconds: number;
  /** nextUpdate − thisUpdate of delta CRLs; at most validitySeconds. Default 1 h. */
  readonly deltaValiditySeconds: number;
  /**
   * What a revocation seen in the outbox triggers: a new delta CRL (default: cheap, what deltas are
   * for) or a new full CRL and delta (every relying party, delta-aware or not, sees it at once).
   */
  readonly onChange: "delta" | "full";
  /** At most one change-triggered CRL per partition per this many seconds. Default 60. */
  readonly coalesceSeconds: number;
  /** Entries of certificates past notAfter stay on the CRL this long (RFC 5280 §3.3 allows dropping them). Default 7 days. */
  readonly expiredLookbackSeconds: number;
  /**
   * A delta lists entries whose row changed after its base's read time minus this margin, so that a
   * revocation whose transaction began before the base was read but committed after it is never lost.
   * Must exceed the longest revocation transaction. Default 600.
   */
  readonly deltaMarginSeconds: number;
  /** A partition lease lasts this long; a build that outlives it cannot publish. Default 600. */
  readonly leaseSeconds: number;
  /** Rows per database page when streaming entries. Default 10,000. */
  readonly pageSize: number;
  /** Scheduler period. Default 10 s. */
  readonly tickSeconds: number;
  /** Partitions built at the same time by one process. Default 2. */
  readonly parallelism: number;
  /** docs/api.md §3: `registered` (default, as JPKI) or `public`. */
  readonly access: "registered" | "public";
  /** Cap on Cache-Control max-age; null: up to nextUpdate. */
  readonly maxCacheSeconds: number | null;
}

export const defaultCrlSettings: CrlSettings = Object.freeze({
  validitySeconds: 86_400,
  deltaValiditySeconds: 3_600,
  onChange: "delta",
  coalesceSeconds: 60,
  expiredLookbackSeconds: 7 * 86_400,
  deltaMarginSeconds: 600,
  leaseSeconds: 600,
  pageSize: 10_000,
  tickSeconds: 10,
  parallelism: 2,
  access: "registered",
  maxCacheSeconds: null,
});

/** docs/domain.md §4: nextUpdate at most 24 h after thisUpdate. */
export const MAX_CRL_VALIDITY_SECONDS = 86_400;

const integerFields: ReadonlyArray<[keyof CrlSettings, number, number]> = [
  ["validitySeconds", 60, MAX_CRL_VALIDITY_SECONDS],
  ["deltaValiditySeconds", 60, MAX_CRL_VALIDITY_SECONDS],
  ["coalesceSeconds", 0, 86_400],
  ["expiredLookbackSeconds", 0, 366 * 86_400],
  ["deltaMarginSeconds", 0, 86_400],
  ["leaseSeconds", 10, 86_400],
  ["pageSize", 100, 1_000_000],
  ["tickSeconds", 1, 3_600],
  ["parallelism", 1, 64],
];

/** Validates a raw `crl` config section (unknown keys refused) over the defaults; returns a frozen copy. */
export function parseCrlSettings(raw: unknown = {}, field = "crl"): CrlSettings {
  const bad = (key: string, rule: string): CaError => new CaError("invalid-input", `${field}.${key} ${rule}`, { field: `${field}.${key}` });
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new CaError("invalid-input", `${field} must be an object`, { field });
  const input = raw as Record<string, unknown>;
  for (const key of Object.keys(input)) if (!Object.hasOwn(defaultCrlSettings, key)) throw bad(key, "is not a CRL setting");
  const s: Record<string, unknown> = { ...defaultCrlSettings, ...input };
  for (const [key, min, max] of integerFields) {
    const v = s[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      throw bad(key, key === "validitySeconds" || key === "deltaValiditySeconds"
        ? `must be an integer from ${min} to ${max} (docs/domain.md §4: nextUpdate at most 24 h after thisUpdate)`
        : `must be an integer from ${min} to ${max}`);
    }
  }
  if (s.onChange !== "delta" && s.onChange !== "full") throw bad("onChange", 'must be "delta" or "full"');
  if (s.access !== "registered" && s.access !== "public") throw bad("access", 'must be "registered" or "public"');
  if (s.maxCacheSeconds !== null && (typeof s.maxCacheSeconds !== "number" || !Number.isInteger(s.maxCacheSeconds) || s.maxCacheSeconds < 0)) {
    throw bad("maxCacheSeconds", "must be null or a non-negative integer");
  }
  const settings = s as unknown as CrlSettings;
  if (settings.deltaValiditySeconds > settings.validitySeconds) throw bad("deltaValiditySeconds", "must not exceed validitySeconds");
  // Re-issue before half the validity elapsed: a tick and a lease must fit well inside that half.
  if (settings.tickSeconds * 4 > settings.deltaValiditySeconds) throw bad("tickSeconds", "must be at most a quarter of deltaValiditySeconds");
  if (settings.coalesceSeconds * 2 > settings.deltaValiditySeconds) throw bad("coalesceSeconds", "must be at most half of deltaValiditySeconds");
  return Object.freeze(settings);
}

/**
 * docs/domain.md §4 / docs/design.md invariant 8: the partition count of a CA generation never changes (Boulder #6438:
 * a shard change once left CRLs covering 10% of revocations). Refuses a configured count that differs
 * from the newest generation of its kind, naming the field. Call once at start-up.
 */
export function checkPartitionCounts(generations: readonly CaGeneration[], configured: Readonly<Record<CaKind, number>>, field = "ca.partitions"): void {
  for (const kind of Object.keys(configured) as CaKind[]) {
    const newest = generations.filter((g) => g.kind === kind).sort((a, b) => b.generation - a.generation)[0];
    if (newest && newest.partitionCount !== configured[kind]) {
      throw new CaError(
        "invalid-input",
        `${field}.${kind} is ${configured[kind]} but CA generation ${newest.id} was created with ${newest.partitionCount} CRL partitions; ` +
          `the partition count of an existing generation never changes (its certificates name their partition). Restore ${newest.partitionCount}.`,
        { field: `${field}.${kind}` },
      );
    }
  }
}
