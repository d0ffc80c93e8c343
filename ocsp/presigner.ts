import type { OutboxReader } from "../ca/revocation/outbox.js";
import type { Clock } from "../ca/ports.js";
import type { OcspMetrics } from "./ocsp-metrics.js";
import type { CertificateStatusSource, OcspResponseStore } from "../ca/revocation/ocsp-ports.js";
import type { StatusAfterExpiry } from "../ca/revocation/status-after-expiry.js";
import { certIdHashes } from "./cert-id.js";
import type { PresignedResponses } from "./presigned-responses.js";
import type { OcspResponders } from "./responders.js";
import { cacheKey, toCachedResponse, type ResponseCache } from "./response-cache.js";
import type { ResponseValidity } from "./response-maker.js";

/**
 * The background side of stored responses, on short timers (no loop ever overlaps itself). HSM work
 * follows demand and status changes, not the population (docs/ocsp.md "Demand-driven responses"):
 *
 * `follow` runs in every service process (`start`); the others in one process of the cluster, under
 * the job lease "ocsp-presigner" (`startBackground`, docs/cluster.md).
 *
 * - outbox (every 200 ms by default, consumer "ocsp"): `certificate.revoked` / `.held` / `.released` re-sign the
 *   certificate's stored responses that are still fresh — only those: a certificate nobody asked about
 *   has none and costs no signature until someone asks (then the request signs its current status).
 *   `certificate.issued` signs nothing; it drops a provisional answer (pending serial) this process
 *   holds. A revocation is served well within a second (docs/design.md invariant 3). The cursor moves
 *   only after the batch is signed and stored; replaying a batch after a crash only re-signs.
 * - follow (same period): responses written by other processes (`seq` > the last seen) replace
 *   this process's cached copies, so every responder process serves the revocation too.
 * - refresh (every second): responses at half-life are re-signed when asked within `demandWindowMs`,
 *   at most `refreshPerSecond`, soonest first, two at a time: background signing never takes the HSM
 *   from issuance or live answers (Boulder #202). Those not asked are taken out of the refresh (they
 *   expire); those of expired certificates are removed — unless the certificate's kind keeps status
 *   after expiry and its cutoff has not come (docs/ocsp.md "Status after expiry"): then they are
 *   refreshed while asked, like any other, and removed after the cutoff.
 * - drop (every `dropIntervalMs`): expired responses out of the refresh and not asked within the
 *   window are deleted, `dropBatch` at a time.
 * - age (every 10 s): the age of the oldest refreshed response and the stored count, for the metrics.
 */
export interface PresignerOptions {
  readonly consumer: string;
  readonly outboxIntervalMs: number;
  readonly outboxBatch: number;
  readonly refreshIntervalMs: number;
  readonly refreshPerSecond: number;
  /** A response asked within this is refreshed; one not asked is left to expire and dropped. Default 3 days. */
  readonly demandWindowMs: number;
  readonly dropIntervalMs: number;
  /** Rows per delete statement; a tick deletes at most 20 batches. */
  readonly dropBatch: number;
  readonly ageIntervalMs: number;
  /**
   * How often `follow` reads again the responses written since its previous re-read (default 5 s): a
   * seq comes from a sequence when a row is written, not when it commits, so a write that took a lower
   * seq and committed after a higher one was stepped over by the forward read (docs/cluster.md "Nodes
   * are interchangeable"). Such a write is followed within this period.
   */
  readonly followRecheckMs: number;
}

export const defaultPresignerOptions: PresignerOptions = Object.freeze({
  consumer: "ocsp",
  outboxIntervalMs: 200,
  outboxBatch: 500,
  refreshIntervalMs: 1000,
  refreshPerSecond: 200,
  demandWindowMs: 3 * 86_400_000,
  dropIntervalMs: 60_000,
  dropBatch: 5000,
  ageIntervalMs: 10_000,
  followRecheckMs: 5_000,
});

export interface PresignerLog {
  warn(obj: Record<string, unknown>, msg: string): void;
}

const CHANGES = new Set(["certificate.revoked", "certificate.held", "certificate.released"]);
const DROP_BATCHES_PER_TICK = 20;
/** Due rows read per refresh tick, per signature of budget: rows not asked only need an update. */
const DUE_READ_FACTOR = 4;

export class OcspPresigner {
  private readonly options: PresignerOptions;
  private lastSeq = -1;
  /** `lastSeq` at the previous re-read of `follow`, and when that was (ms of the clock). */
  private recheckFrom = -1;
  private recheckAt = 0;
  /** Timers and work in progress, each marked true when it belongs to the background loops. */
  private readonly timers = new Map<NodeJS.Timeout, boolean>();
  private readonly running = new Map<Promise<unknown>, boolean>();
  private stopped = true;
  private backgroundStopped = true;

  constructor(
    private readonly deps: {
      readonly presigned: PresignedResponses;
      readonly responders: Pick<OcspResponders, "entries">;
      readonly store: OcspResponseStore;
      readonly cache: ResponseCache;
      readonly outbox: OutboxReader;
      readonly clock: Clock;
      readonly validity: ResponseValidity;
      readonly metrics: OcspMetrics;
      readonly log: PresignerLog;
      /**
       * Status after expiry, and where the refresher reads the notAfter of the (few) expired
       * certificates among the due rows: background work, never the request path.
       */
      readonly afterExpiry?: { readonly policy: StatusAfterExpiry; readonly statuses: CertificateStatusSource };
    },
    options: Partial<PresignerOptions> = {},
  ) {
    this.options = { ...defaultPresignerOptions, ...options };
    if (!(this.options.refreshPerSecond > 0)) throw new RangeError("refreshPerSecond must be positive");
    if (!(this.options.demandWindowMs > this.deps.validity.validityMs / 2)) throw new RangeError("demandWindowMs must exceed half the response validity");
  }

  /** Re-signs the stored responses of one outbox batch's status changes and moves the cursor. @returns messages consumed */
  async consumeOutbox(): Promise<number> {
    const { outbox, presigned, store, cache, clock } = this.deps;
    const messages = await outbox.readAfterCursor(this.options.consumer, this.options.outboxBatch);
    if (messages.length === 0) return 0;
    const serialOf = (m: (typeof messages)[number]): string | undefined => (typeof m.payload.serial === "string" ? m.payload.serial : undefined);
    for (const m of messages) {
      const serial = serialOf(m);
      if (m.topic !== "certificate.issued" || serial === undefined) continue;
      // A provisional (pending) answer this process holds must not outlive the issuance: the next request reads the row.
      for (const e of this.deps.responders.entries()) for (const h of certIdHashes) cache.delete(cacheKey(e.caId, h, serial));
    }
    const changed = [...new Set(messages.filter((m) => CHANGES.has(m.topic)).flatMap((m) => serialOf(m) ?? []))];
    if (changed.length > 0) {
      const stored = await store.hashesOf(changed, clock.now());
      await presigned.resign([...stored].map(([serial, hashes]) => ({ serial, hashes })), "status-change", 4);
    }
    await outbox.advanceCursor(this.options.consumer, messages[messages.length - 1]!.id);
    return messages.length;
  }

  /** Applies responses other processes wrote since the last call. @returns rows seen */
  async follow(): Promise<number> {
    const { store, cache } = this.deps;
    const now = this.deps.clock.now().getTime();
    if (this.lastSeq < 0) {
      this.lastSeq = await store.lastSeq();
      this.recheckFrom = this.lastSeq;
      this.recheckAt = now;
      return 0;
    }
    const { rows, lastSeq } = await store.changedSince(this.lastSeq, 1000);
    for (const row of rows) {
      const key = cacheKey(row.caId, row.hash, row.serial);
      cache.noteChange(key);
      cache.replaceIfPresent(toCachedResponse(row));
    }
    this.lastSeq = lastSeq;
    if (now - this.recheckAt < this.options.followRecheckMs) return rows.length;
    return rows.length + (await this.recheck(now));
  }

  /**
   * Reads again what was written since the previous re-read, up to the forward read's position: a
   * write that committed after a higher seq was followed (a revocation signed while another process
   * stored a response) is applied now instead of never. Rows already applied are skipped.
   */
  private async recheck(now: number): Promise<number> {
    const { store, cache } = this.deps;
    const upTo = this.lastSeq;
    let from = this.recheckFrom;
    let late = 0;
    while (from < upTo) {
      const page = await store.changedSince(from, 1000);
      for (const row of page.rows) {
        const key = cacheKey(row.caId, row.hash, row.serial);
        const held = cache.get(key);
        if (held !== undefined && held.rank === row.rank && held.thisUpdate.getTime() === row.thisUpdate.getTime() && held.producedAt.getTime() === row.producedAt.getTime()) continue;
        cache.noteChange(key);
        if (held !== undefined) {
          cache.replaceIfPresent(toCachedResponse(row));
          late++;
        }
      }
      if (page.rows.length === 0) break;
      from = page.lastSeq;
    }
    this.recheckFrom = upTo;
    this.recheckAt = now;
    return late;
  }

  /**
   * Re-signs up to one interval's budget of responses at half-life that were asked within the window;
   * takes the others out of the refresh; removes those of expired certificates. @returns responses signed
   */
  async refreshDue(): Promise<number> {
    const now = this.deps.clock.now();
    const budget = Math.max(1, Math.floor((this.options.refreshPerSecond * this.options.refreshIntervalMs) / 1000));
    const due = await this.deps.store.listDue(now, budget * DUE_READ_FACTOR);
    const since = now.getTime() - this.options.demandWindowMs;
    const asked = (d: (typeof due)[number]): boolean => d.lastRequestedAt !== null && d.lastRequestedAt.getTime() >= since;
    const keep = await this.expiredWithinStatus(due.filter((d) => d.expired), now);
    const live = (d: (typeof due)[number]): boolean => !d.expired || keep.has(d.serial);
    // Expired certificates past their status are not re-signed; removing them keeps them from heading every later scan.
    await this.deps.store.remove(due.filter((d) => !live(d)));
    await this.deps.store.unschedule(due.filter((d) => live(d) && !asked(d)));
    const wanted = due.filter((d) => live(d) && asked(d)).slice(0, budget);
    return this.deps.presigned.resign(wanted.map((d) => ({ serial: d.serial, hashes: [d.hash] })), "refresh", 2);
  }

  /**
   * Of the expired certificates among due rows, the serials whose status is still given at `now`
   * (status after expiry: docs/ocsp.md). One read of their rows; none without the policy.
   */
  private async expiredWithinStatus(expired: ReadonlyArray<{ serial: string }>, now: Date): Promise<Set<string>> {
    const a = this.deps.afterExpiry;
    if (a === undefined || expired.length === 0) return new Set();
    const rows = await a.statuses.statuses([...new Set(expired.map((d) => d.serial))]);
    return new Set([...rows.values()].filter((r) => a.policy.enabled(r.caId) && !a.policy.pastCutoff(r.caId, r.notAfter, now)).map((r) => r.serial));
  }

  /** Deletes expired responses nobody asked for within the window, in bounded batches. @returns responses deleted */
  async dropUnrequested(): Promise<number> {
    const now = this.deps.clock.now();
    const before = new Date(now.getTime() - this.options.demandWindowMs);
    let total = 0;
    for (let i = 0; i < DROP_BATCHES_PER_TICK; i++) {
      const n = await this.deps.store.dropUnrequested(now, before, this.options.dropBatch);
      total += n;
      if (n < this.options.dropBatch) break;
    }
    return total;
  }

  /** Updates the oldest-response-age and stored-responses metrics. */
  async reportAge(): Promise<void> {
    const now = this.deps.clock.now();
    const oldest = await this.deps.store.oldestThisUpdate();
    this.deps.metrics.setOldestResponseAge(oldest === undefined ? 0 : Math.max(0, (now.getTime() - oldest.getTime()) / 1000));
    if (this.deps.metrics.setStoredResponses) this.deps.metrics.setStoredResponses(await this.deps.store.countStored());
  }

  /**
   * Runs what every service process runs: `follow`, so the responses another process signs replace
   * this process's cached copies within a period. The cluster-wide work is `startBackground`.
   */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop("follow", this.options.outboxIntervalMs, () => this.follow(), () => this.stopped);
  }

  /**
   * Runs the work one process of the cluster does, under its job lease (docs/cluster.md): the outbox
   * consumer, the refresh, the drop and the age metrics. Two at once would only sign twice (the outbox
   * cursor only moves forward, a refresh re-signs what is due): the lease saves the HSM the work, no
   * fence is needed.
   */
  startBackground(): void {
    if (!this.backgroundStopped) return;
    this.backgroundStopped = false;
    const o = this.options;
    const stopped = (): boolean => this.backgroundStopped;
    this.loop(
      "outbox",
      o.outboxIntervalMs,
      async () => {
        // Drain a backlog (e.g. a bulk revocation) without waiting a period between batches.
        while (!stopped() && (await this.consumeOutbox()) === o.outboxBatch);
      },
      stopped,
    );
    this.loop("refresh", o.refreshIntervalMs, () => this.refreshDue(), stopped);
    this.loop("drop", o.dropIntervalMs, () => this.dropUnrequested(), stopped);
    this.loop("age", o.ageIntervalMs, () => this.reportAge(), stopped);
  }

  /** Stops the background loops (not `follow`) and waits for their work in progress. */
  async stopBackground(): Promise<void> {
    this.backgroundStopped = true;
    for (const [t, background] of this.timers) if (background) clearTimeout(t);
    for (const [t, background] of [...this.timers]) if (background) this.timers.delete(t);
    await Promise.allSettled([...this.running].filter(([, background]) => background).map(([p]) => p));
  }

  /** Stops every loop and waits for the work in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.backgroundStopped = true;
    for (const t of this.timers.keys()) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.running.keys()]);
  }

  private loop(name: string, periodMs: number, work: () => Promise<unknown>, stopped: () => boolean): void {
    const background = name !== "follow";
    const tick = (): void => {
      if (stopped()) return;
      const p = work()
        .catch((e: unknown) => this.deps.log.warn({ loop: name, err: (e as Error)?.name, message: (e as Error)?.message }, "OCSP background work failed; retrying"))
        .finally(() => {
          this.running.delete(p);
          if (stopped()) return;
          const t = setTimeout(() => {
            this.timers.delete(t);
            tick();
          }, periodMs);
          t.unref();
          this.timers.set(t, background);
        });
      this.running.set(p, background);
    };
    tick();
  }
}
