/**
 * Load generation for request/response benchmarks.
 *
 * - closedLoop: a fixed number of requests in flight; each lane sends its next request when the last
 *   one answered. Measures the maximum rate at that concurrency.
 * - openLoop: requests start on a fixed schedule (i / rate), whether or not earlier ones answered, and
 *   latency is counted from the scheduled start, not from when the request could be sent: a stalled
 *   service shows up as latency instead of silently lowering the rate ("coordinated omission",
 *   Gil Tene; wrk2).
 *
 * A request is a `job(i)` that resolves true on success; `i` counts up from 0 across the run. Both stop
 * at `seconds` or when `limit` requests have started (the pool of distinct inputs ran out).
 */

export interface LoadStats {
  /** Requests that succeeded. */
  readonly ok: number;
  /** Requests that failed (answered other than expected, or threw). */
  readonly failed: number;
  /** Seconds from the first start to the last answer. */
  readonly elapsed: number;
  /** Successful requests per second. */
  readonly rate: number;
  /** Latency in ms of successful requests, nearest rank. */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Whether `limit` stopped the run before `seconds`. */
  readonly exhausted: boolean;
  /** The first few failures, for the report. */
  readonly errors: readonly string[];
}

export type Job = (i: number) => Promise<boolean>;

class Recorder {
  readonly latencies: number[] = [];
  failed = 0;
  readonly errors: string[] = [];

  async run(job: Job, i: number, from: number): Promise<void> {
    try {
      if (await job(i)) this.latencies.push(performance.now() - from);
      else this.failed++;
    } catch (e) {
      this.failed++;
      if (this.errors.length < 5) this.errors.push((e as Error).message ?? String(e));
    }
  }

  fail(message: string): void {
    if (this.errors.length < 5) this.errors.push(message);
  }

  stats(started: number, exhausted: boolean): LoadStats {
    const sorted = Float64Array.from(this.latencies).sort();
    const at = (q: number): number => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
    const elapsed = (performance.now() - started) / 1000;
    return { ok: sorted.length, failed: this.failed, elapsed, rate: sorted.length / elapsed, p50: at(0.5), p99: at(0.99), max: at(1), exhausted, errors: this.errors };
  }
}

/** `concurrency` requests in flight for `seconds`. */
export async function closedLoop(job: Job, opts: { concurrency: number; seconds: number; limit: number; first?: number }): Promise<LoadStats> {
  const rec = new Recorder();
  let next = opts.first ?? 0;
  const last = next + opts.limit;
  const started = performance.now();
  const stopAt = started + opts.seconds * 1000;
  let exhausted = false;
  const lane = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      if (next >= last) {
        exhausted = true;
        return;
      }
      const i = next++;
      await rec.run(job, i, performance.now());
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, lane));
  return rec.stats(started, exhausted);
}

/** `rate` requests per second on a fixed schedule for `seconds`. */
export async function openLoop(job: Job, opts: { rate: number; seconds: number; limit: number; first?: number }): Promise<LoadStats> {
  const rec = new Recorder();
  const first = opts.first ?? 0;
  const total = Math.min(opts.limit, Math.floor(opts.rate * opts.seconds));
  const exhausted = total < Math.floor(opts.rate * opts.seconds);
  const interval = 1000 / opts.rate;
  const started = performance.now();
  const inFlight: Array<Promise<void>> = [];
  let sent = 0;
  while (sent < total) {
    const now = performance.now();
    // Everything due by now starts now, each timed from when it was due.
    while (sent < total && started + sent * interval <= now) {
      inFlight.push(rec.run(job, first + sent, started + sent * interval));
      sent++;
    }
    const wait = started + sent * interval - performance.now();
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(wait, 50))));
  }
  await Promise.all(inFlight);
  if (exhausted) rec.fail(`only ${total} distinct requests were available`);
  return rec.stats(started, exhausted);
}
