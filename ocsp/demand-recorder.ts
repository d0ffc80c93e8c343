import type { Clock } from "../ca/ports.js";
import type { CertIdHash, OcspResponseStore } from "../ca/revocation/ocsp-ports.js";
import type { CachedResponse } from "./response-cache.js";

/**
 * Which stored responses relying parties ask for, written to `ocsp_responses.last_requested_at` in
 * batches (docs/ocsp.md "Demand-driven responses"): the refresher re-signs at half-life only what was
 * asked within the window, and what nobody asked for expires and is deleted. HSM work follows demand,
 * not the population.
 *
 * Cheap on the hot path: a served response is noted at most once per `granularityMs` (its
 * `requestedMark`, carried by the cached response itself and loaded from the database with it), so a
 * hot certificate costs one comparison per answer and one row update per granularity; the pending
 * set is written every `flushIntervalMs` in one statement per `maxBatch`, never a write per request.
 *
 * Bounded: at most `maxPending` keys wait. A note that does not fit (the database failing for long) is
 * lost: the only effect is that the response may leave the refresh early and be signed again on its
 * next request after it expired (the window is days, the granularity an hour).
 */
export interface DemandRecorderOptions {
  /** Default 10 s. */
  readonly flushIntervalMs: number;
  /** A response is noted at most once per this, per process. Default 1 h (the window is days). */
  readonly granularityMs: number;
  /** Default 2,000 per statement. */
  readonly maxBatch: number;
  /** Default 200,000. */
  readonly maxPending: number;
}

export const defaultDemandRecorderOptions: DemandRecorderOptions = Object.freeze({
  flushIntervalMs: 10_000,
  granularityMs: 3_600_000,
  maxBatch: 2000,
  maxPending: 200_000,
});

export interface DemandLog {
  warn(obj: Record<string, unknown>, msg: string): void;
}

export class DemandRecorder {
  private pending = new Map<string, { serial: string; hash: CertIdHash }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  readonly options: DemandRecorderOptions;

  constructor(
    private readonly deps: { readonly store: Pick<OcspResponseStore, "touch">; readonly clock: Clock; readonly log: DemandLog },
    options: Partial<DemandRecorderOptions> = {},
  ) {
    this.options = { ...defaultDemandRecorderOptions, ...options };
  }

  /** Keys waiting to be written. */
  get size(): number {
    return this.pending.size;
  }

  /** Notes that `r` was served at `nowMs`. Only stored responses (issued certificates, rank ≥ 1) are noted. */
  note(r: CachedResponse, nowMs: number): void {
    if (nowMs - (r.requestedMark ?? 0) < this.options.granularityMs || r.rank === 0) return;
    if (this.pending.size >= this.options.maxPending) return;
    r.requestedMark = nowMs;
    this.pending.set(`${r.serial}|${r.hash}`, { serial: r.serial, hash: r.hash });
  }

  /** Writes what is pending (never throws; a failed batch is kept for the next flush, space permitting). */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    const p = this.drain().finally(() => {
      if (this.flushing === p) this.flushing = undefined;
    });
    this.flushing = p;
    return p;
  }

  private async drain(): Promise<void> {
    if (this.pending.size === 0) return;
    const items = [...this.pending.values()];
    this.pending = new Map();
    const at = this.deps.clock.now();
    for (let i = 0; i < items.length; i += this.options.maxBatch) {
      const batch = items.slice(i, i + this.options.maxBatch);
      try {
        await this.deps.store.touch(batch, at);
      } catch (e) {
        this.deps.log.warn({ err: (e as Error)?.name, keys: items.length - i }, "OCSP demand write failed; kept for retry");
        for (const it of items.slice(i)) {
          if (this.pending.size >= this.options.maxPending) break;
          this.pending.set(`${it.serial}|${it.hash}`, it);
        }
        return;
      }
    }
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
