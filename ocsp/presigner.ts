import type { OutboxReader } from "../ca/revocation/outbox.js";
import type { Clock } from "../ca/ports.js";
import type { OcspMetrics } from "./ocsp-metrics.js";
import type { OcspResponseStore } from "../ca/revocation/ocsp-ports.js";
import type { PresignedResponses } from "./presigned-responses.js";
import { cacheKey, toCachedResponse, type ResponseCache } from "./response-cache.js";
import type { ResponseValidity } from "./response-maker.js";

/**
 * The background side of pre-signed responses, on short timers (no loop ever overlaps itself):
 *
 * - outbox (every 200 ms by default, consumer "ocsp"): `certificate.issued`, `.revoked`, `.held`
 *   re-sign the certificate's responses, so a revocation is served well within a second
 *   (docs/design.md invariant 3: OCSP follows from the outbox). The cursor moves only after the batch is
 *   signed and stored; replaying a batch after a crash only re-signs.
 * - follow (same period): responses written by other processes (`seq` > the last seen) replace
 *   this process's cached copies, so every responder process serves the revocation too.
 * - refresh (every second): responses past half their validity are re-signed, at most
 *   `refreshPerSecond`, oldest first, two at a time: background signing never takes the HSM from
 *   issuance or live answers (Boulder #202). Those of expired certificates are removed instead.
 * - age (every 10 s): the age of the oldest stored response, for the metric.
 */
export interface PresignerOptions {
  readonly consumer: string;
  readonly outboxIntervalMs: number;
  readonly outboxBatch: number;
  readonly refreshIntervalMs: number;
  readonly refreshPerSecond: number;
  readonly ageIntervalMs: number;
}

export const defaultPresignerOptions: PresignerOptions = Object.freeze({
  consumer: "ocsp",
  outboxIntervalMs: 200,
  outboxBatch: 500,
  refreshIntervalMs: 1000,
  refreshPerSecond: 200,
  ageIntervalMs: 10_000,
});

export interface PresignerLog {
  warn(obj: Record<string, unknown>, msg: string): void;
}

const TOPICS = new Set(["certificate.issued", "certificate.revoked", "certificate.held"]);

export class OcspPresigner {
  private readonly options: PresignerOptions;
  private lastSeq = -1;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<unknown>>();
  private stopped = true;

  constructor(
    private readonly deps: {
      readonly presigned: PresignedResponses;
      readonly store: OcspResponseStore;
      readonly cache: ResponseCache;
      readonly outbox: OutboxReader;
      readonly clock: Clock;
      readonly validity: ResponseValidity;
      readonly metrics: OcspMetrics;
      readonly log: PresignerLog;
    },
    options: Partial<PresignerOptions> = {},
  ) {
    this.options = { ...defaultPresignerOptions, ...options };
    if (!(this.options.refreshPerSecond > 0)) throw new RangeError("refreshPerSecond must be positive");
  }

  /** Signs the responses of one outbox batch and moves the cursor. @returns messages consumed */
  async consumeOutbox(): Promise<number> {
    const { outbox, presigned } = this.deps;
    const messages = await outbox.readAfterCursor(this.options.consumer, this.options.outboxBatch);
    if (messages.length === 0) return 0;
    const serials = messages
      .filter((m) => TOPICS.has(m.topic) && typeof m.payload.serial === "string")
      .map((m) => ({ serial: m.payload.serial as string }));
    await presigned.resign(serials, "presign", 4);
    await outbox.advanceCursor(this.options.consumer, messages[messages.length - 1]!.id);
    return messages.length;
  }

  /** Applies responses other processes wrote since the last call. @returns rows seen */
  async follow(): Promise<number> {
    const { store, cache } = this.deps;
    if (this.lastSeq < 0) {
      this.lastSeq = await store.lastSeq();
      return 0;
    }
    const { rows, lastSeq } = await store.changedSince(this.lastSeq, 1000);
    for (const row of rows) {
      const key = cacheKey(row.caId, row.hash, row.serial);
      cache.noteChange(key);
      cache.replaceIfPresent(toCachedResponse(row));
    }
    this.lastSeq = lastSeq;
    return rows.length;
  }

  /** Re-signs up to one interval's budget of responses past half-life. @returns responses signed */
  async refreshDue(): Promise<number> {
    const now = this.deps.clock.now();
    const halfLife = this.deps.validity.validityMs / 2;
    const budget = Math.max(1, Math.floor((this.options.refreshPerSecond * this.options.refreshIntervalMs) / 1000));
    const due = await this.deps.store.listDue(new Date(now.getTime() - halfLife), now, budget);
    // Expired certificates are not re-signed; removing them keeps them from heading every later scan.
    await this.deps.store.remove(due.filter((d) => d.expired));
    const live = due.filter((d) => !d.expired);
    return this.deps.presigned.resign(live.map((d) => ({ serial: d.serial, hashes: [d.hash] })), "refresh", 2);
  }

  /** Updates the oldest-response-age metric. */
  async reportAge(): Promise<void> {
    const now = this.deps.clock.now();
    const oldest = await this.deps.store.oldestThisUpdate();
    this.deps.metrics.setOldestResponseAge(oldest === undefined ? 0 : Math.max(0, (now.getTime() - oldest.getTime()) / 1000));
  }

  /**
   * Runs the loops. `follower` (every service process but the first, CA_WORKERS > 1): only `follow`,
   * so the responses the first process signs replace this process's cached copies within a period.
   */
  start(role: "leader" | "follower" = "leader"): void {
    if (!this.stopped) return;
    this.stopped = false;
    const o = this.options;
    if (role === "follower") {
      this.loop("follow", o.outboxIntervalMs, () => this.follow());
      return;
    }
    this.loop("outbox", o.outboxIntervalMs, async () => {
      // Drain a backlog (e.g. a bulk revocation) without waiting a period between batches.
      while (!this.stopped && (await this.consumeOutbox()) === o.outboxBatch);
      await this.follow();
    });
    this.loop("refresh", o.refreshIntervalMs, () => this.refreshDue());
    this.loop("age", o.ageIntervalMs, () => this.reportAge());
  }

  /** Stops the timers and waits for the work in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.running]);
  }

  private loop(name: string, periodMs: number, work: () => Promise<unknown>): void {
    const tick = (): void => {
      if (this.stopped) return;
      const p = work()
        .catch((e: unknown) => this.deps.log.warn({ loop: name, err: (e as Error)?.name, message: (e as Error)?.message }, "OCSP background work failed; retrying"))
        .finally(() => {
          this.running.delete(p);
          if (this.stopped) return;
          const t = setTimeout(() => {
            this.timers.delete(t);
            tick();
          }, periodMs);
          t.unref();
          this.timers.add(t);
        });
      this.running.add(p);
    };
    tick();
  }
}
