import type { Clock } from "../ca/ports.js";
import type { CertIdHash, OcspResponseStore } from "../ca/revocation/ocsp-ports.js";
import { AccessRecorder, type AccessRecorderLog } from "./access-recorder.js";
import type { CachedResponse } from "./response-cache.js";

/**
 * Which stored responses relying parties ask for, written to `ocsp_responses.last_requested_at` in
 * batches (docs/ocsp.md "Demand-driven responses"): the refresher re-signs at half-life only what was
 * asked within the window, and what nobody asked for expires and is deleted. HSM work follows demand,
 * not the population.
 *
 * Cheap on the hot path: a served response is noted at most once per `granularityMs` (its
 * `requestedMark`, carried by the cached response itself and loaded from the database with it), so a
 * hot certificate costs one comparison per answer and one row update per granularity; the waiting
 * keys are written every `flushIntervalMs` in one statement per `maxBatch`, never a write per request.
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

export type DemandLog = AccessRecorderLog;

/** The batching, bounding and retry are the access recorder's (ocsp/access-recorder.ts); this adds the granularity. */
export class DemandRecorder {
  private readonly recorder: AccessRecorder<{ readonly serial: string; readonly hash: CertIdHash }>;
  readonly options: DemandRecorderOptions;

  constructor(
    deps: { readonly store: Pick<OcspResponseStore, "touch">; readonly clock: Clock; readonly log: DemandLog },
    options: Partial<DemandRecorderOptions> = {},
  ) {
    this.options = { ...defaultDemandRecorderOptions, ...options };
    const sink = { append: (keys: ReadonlyArray<{ serial: string; hash: CertIdHash }>) => deps.store.touch(keys, deps.clock.now()) };
    const { flushIntervalMs, maxBatch, maxPending } = this.options;
    this.recorder = new AccessRecorder(sink, deps.log, { flushIntervalMs, maxBatch, maxBuffered: maxPending, name: "OCSP demand" });
  }

  /** Keys waiting to be written. */
  get size(): number {
    return this.recorder.pending;
  }

  /** Notes that `r` was served at `nowMs`. Only stored responses (issued certificates, rank ≥ 1) are noted. */
  note(r: CachedResponse, nowMs: number): void {
    if (nowMs - (r.requestedMark ?? 0) < this.options.granularityMs || r.rank === 0) return;
    if (this.recorder.record([{ serial: r.serial, hash: r.hash }])) r.requestedMark = nowMs;
  }

  /** Writes what is pending (never throws; a failed batch is kept for the next flush, space permitting). */
  flush(): Promise<void> {
    return this.recorder.flush();
  }

  start(): void {
    this.recorder.start();
  }

  async stop(): Promise<void> {
    await this.recorder.stop();
  }
}
