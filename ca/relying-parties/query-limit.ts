import { CaError } from "../errors.js";
import type { Clock } from "../ports.js";

/**
 * The per-party limit on relying-party queries (docs/relying-parties.md "Limits"): no party can walk
 * serial numbers to find out which exist or whose they are. Fixed windows counted in the database
 * (`relying_party_query_windows`, migration 0029) through {@link QueryWindowStore}, so the limit holds
 * for the cluster, whichever node answers (docs/cluster.md "Nodes are interchangeable"). Every query
 * counts, answered or refused: a refused guess costs as much as an answered one.
 */
export interface QueryLimitSettings {
  /** Window length; default 1 minute. */
  readonly windowMs: number;
  /** [U] queries per party per window; default 60. */
  readonly perParty: number;
}

export const defaultQueryLimits: QueryLimitSettings = Object.freeze({ windowMs: 60_000, perParty: 60 });

/** Port; adapter db/relying-party-query-store.ts. */
export interface QueryWindowStore {
  /** Adds one to the party's counter of the window (atomically) and returns the new count. */
  hit(partyId: string, windowStart: Date): Promise<number>;
}

/** 429 with when the window ends (Retry-After); `first` marks the refusal that is audited. */
export class QueryRateLimited extends CaError {
  constructor(
    readonly retryAfterSeconds: number,
    readonly first: boolean,
  ) {
    super("rate-limited", "too many relying-party queries: try again later");
  }
}

export class QueryLimit {
  constructor(
    private readonly store: QueryWindowStore,
    private readonly clock: Clock,
    readonly settings: QueryLimitSettings = defaultQueryLimits,
  ) {}

  /** Counts one query of `partyId`; throws {@link QueryRateLimited} past the limit. */
  async take(partyId: string): Promise<void> {
    const now = this.clock.now().getTime();
    const start = now - (now % this.settings.windowMs);
    const count = await this.store.hit(partyId, new Date(start));
    if (count > this.settings.perParty) throw new QueryRateLimited(Math.max(1, Math.ceil((start + this.settings.windowMs - now) / 1000)), count === this.settings.perParty + 1);
  }
}
