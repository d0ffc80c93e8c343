import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { CaError } from "../ca/errors.js";
import type { OutboxReader } from "../ca/revocation/outbox.js";
import type { Clock } from "../ca/ports.js";
import type { TransactionRunner } from "../ca/stores.js";
import { parseCaId, type CaId } from "../ca/types.js";
import type { CrlAuthority } from "./crl-authority.js";
import type { CrlIssuer } from "./crl-issuer.js";
import { noCrlMetrics, type CrlMetrics } from "./crl-metrics.js";
import type { CrlPartitionState, CrlStore, PartitionRef } from "../ca/revocation/crl-ports.js";
import type { CrlSettings } from "./crl-settings.js";

/** The outbox consumer name of the CRL worker (ca/revocation/outbox.ts: one cursor per consumer). */
export const CRL_OUTBOX_CONSUMER = "crl";
const OUTBOX_BATCH = 1000;

/** The log calls the worker makes (pino's `(object, message)` form). Never given personal data. */
export interface CrlLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** What a partition needs now. */
export interface DueWork {
  readonly full: boolean;
  readonly delta: boolean;
}

/**
 * The scheduling rule for one partition, pure so it can be tested on a fixed clock:
 * - a full CRL when there is none, when half its validity has elapsed, or (onChange "full") after a
 *   change once `coalesceSeconds` passed since the last CRL;
 * - a delta CRL after every full CRL, when there is none or it refers to another base, when half its
 *   validity has elapsed, or after a change once `coalesceSeconds` passed since the last delta.
 * Re-issuing at half the validity leaves the other half for retries before any relying party sees an
 * expired CRL (vault #16762: the schedule, not the revocation, must drive nextUpdate).
 */
export function dueWork(state: CrlPartitionState, now: Date, settings: Pick<CrlSettings, "validitySeconds" | "deltaValiditySeconds" | "onChange" | "coalesceSeconds">): DueWork | null {
  const t = now.getTime();
  const { full, delta } = state;
  const changed = state.changedAt !== null;
  const coalesced = (since: Date): boolean => t - since.getTime() >= settings.coalesceSeconds * 1000;
  const fullDue =
    full === null ||
    t >= full.thisUpdate.getTime() + (settings.validitySeconds * 1000) / 2 ||
    (settings.onChange === "full" && changed && coalesced(delta !== null && delta.thisUpdate > full.thisUpdate ? delta.thisUpdate : full.thisUpdate));
  const deltaDue =
    fullDue ||
    delta === null ||
    delta.baseNumber !== full.number ||
    t >= delta.thisUpdate.getTime() + (settings.deltaValiditySeconds * 1000) / 2 ||
    (changed && coalesced(delta.thisUpdate));
  return fullDue || deltaDue ? { full: fullDue, delta: deltaDue } : null;
}

export type PartitionOutcomeKind = "issued" | "busy" | "skipped" | "failed";

export interface PartitionOutcome extends PartitionRef {
  readonly outcome: PartitionOutcomeKind;
  readonly fullNumber?: number;
  readonly deltaNumber?: number;
  readonly fullEntries?: number;
  readonly deltaEntries?: number;
  /** For `failed`: the error class and message (no personal data: CRL errors carry none). */
  readonly error?: string;
}

export interface RunReport {
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly partitions: readonly PartitionOutcome[];
}

export interface CrlSchedulerDeps {
  readonly issuer: Pick<CrlIssuer, "issue">;
  readonly store: CrlStore;
  readonly outbox: OutboxReader;
  readonly transactions: TransactionRunner;
  readonly authorities: readonly CrlAuthority[];
  readonly clock: Clock;
  readonly settings: CrlSettings;
  /** Lease owner name; default host, pid and a random suffix. */
  readonly owner?: string;
  readonly logger?: CrlLogger;
  readonly metrics?: CrlMetrics;
  /** runNow: how long to wait for partitions another worker holds (default 30 s). */
  readonly busyWaitMs?: number;
}

const silent: CrlLogger = { info: () => {}, warn: () => {}, error: () => {} };

/**
 * The CRL worker of one process. Several processes may run it against one database: the outbox
 * cursor is shared (advancing is idempotent), partition leases keep two workers from building the
 * same partition at once, and the store refuses a publication that would not increase the number.
 * The partition leases fence: a number is taken and a CRL published only under a valid lease token,
 * re-checked `for update` in the publishing transaction on the database's clock (db/crl-store.ts).
 * The service runs `start()` in one process of the cluster, under the job lease "crl-scheduler"
 * (docs/cluster.md), which only saves the other processes the polling; `runNow` runs anywhere.
 *
 * `start()` runs `tick()` every `tickSeconds` on an unref'd timer; within a process, ticks and
 * `runNow` never overlap.
 */
export class CrlScheduler {
  readonly owner: string;
  private readonly authorities: CrlAuthority[];
  private readonly byId: Map<CaId, CrlAuthority>;
  private readonly logger: CrlLogger;
  private readonly metrics: CrlMetrics;
  private timer: NodeJS.Timeout | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private ticking = false;
  private initialized = false;

  constructor(private readonly deps: CrlSchedulerDeps) {
    this.owner = deps.owner ?? `crl-${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`;
    this.authorities = [...deps.authorities];
    this.byId = new Map(deps.authorities.map((a) => [a.caId, a]));
    this.logger = deps.logger ?? silent;
    this.metrics = deps.metrics ?? noCrlMetrics;
  }

  /** Starts the periodic tick (first one right away). */
  start(): void {
    if (this.timer !== null) return;
    const run = (): void => {
      void this.tick().catch((e: unknown) => this.logger.error({ err: errorName(e) }, "CRL tick failed"));
    };
    this.timer = setInterval(run, this.deps.settings.tickSeconds * 1000);
    this.timer.unref();
    run();
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.queue.catch(() => undefined);
  }

  /**
   * One scheduling round: read the outbox into per-partition change marks, then issue what is due.
   * Skipped (empty report) while another round of this process is still running.
   */
  async tick(): Promise<RunReport> {
    const startedAt = this.deps.clock.now();
    if (this.ticking) return { startedAt, finishedAt: startedAt, partitions: [] };
    this.ticking = true;
    try {
      return await this.exclusive(async () => {
        await this.init();
        try {
          await this.pollOutbox();
        } catch (e) {
          this.metrics.incFailure("outbox");
          this.logger.error({ err: errorName(e) }, "CRL outbox poll failed");
        }
        const now = this.deps.clock.now();
        const due = (await this.deps.store.states()).filter((s) => this.byId.has(s.caId) && dueWork(s, now, this.deps.settings) !== null);
        const partitions = await this.runPartitions(due, false);
        return { startedAt, finishedAt: this.deps.clock.now(), partitions };
      });
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Issues a new full and delta CRL for every partition of `caId` (or of every CA) now, waiting up to
   * `busyWaitMs` for partitions another worker is building. CaError("not-found") for an unknown CA.
   */
  async runNow(caId?: CaId): Promise<RunReport> {
    if (caId !== undefined && !this.byId.has(caId)) throw new CaError("not-found", `no CA generation ${String(caId)} to issue CRLs for`);
    return this.exclusive(async () => {
      await this.init();
      const startedAt = this.deps.clock.now();
      // Consume the outbox first: the change marks this run covers are then cleared by its publications.
      await this.pollOutbox().catch((e: unknown) => {
        this.metrics.incFailure("outbox");
        this.logger.error({ err: errorName(e) }, "CRL outbox poll failed");
      });
      const refs = this.authorities
        .filter((a) => caId === undefined || a.caId === caId)
        .flatMap((a) => Array.from({ length: a.partitionCount }, (_, partition) => ({ caId: a.caId, partition })));
      const done = new Map<string, PartitionOutcome>();
      let todo: PartitionRef[] = refs;
      const deadline = Date.now() + (this.deps.busyWaitMs ?? 30_000);
      for (;;) {
        for (const o of await this.runPartitions(todo, true)) done.set(`${o.caId}/${o.partition}`, o);
        todo = todo.filter((r) => done.get(`${r.caId}/${r.partition}`)?.outcome === "busy");
        if (todo.length === 0 || Date.now() >= deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      return { startedAt, finishedAt: this.deps.clock.now(), partitions: refs.map((r) => done.get(`${r.caId}/${r.partition}`)!) };
    });
  }

  /** Reads new outbox messages into change marks; returns how many messages were consumed. */
  async pollOutbox(): Promise<number> {
    const { outbox, transactions, store } = this.deps;
    let consumed = 0;
    for (;;) {
      const batch = await outbox.readAfterCursor(CRL_OUTBOX_CONSUMER, OUTBOX_BATCH);
      const last = batch[batch.length - 1];
      if (last === undefined) return consumed;
      const refs = new Map<string, PartitionRef>();
      for (const m of batch) {
        if (m.topic !== "certificate.revoked" && m.topic !== "certificate.held" && m.topic !== "certificate.released") continue;
        const ref = this.partitionNamedBy(m.payload);
        if (ref) refs.set(`${ref.caId}/${ref.partition}`, ref);
        else this.logger.warn({ outboxId: m.id, topic: m.topic }, "CRL worker ignored an outbox message without a known CA partition");
      }
      await transactions.transaction(async (tx) => {
        if (refs.size > 0) await store.markChanged([...refs.values()], tx);
        await outbox.advanceCursor(CRL_OUTBOX_CONSUMER, last.id, tx);
      });
      consumed += batch.length;
      if (batch.length < OUTBOX_BATCH) return consumed;
    }
  }

  /**
   * The partition an outbox message names (`caId`, `partition`: chosen at issuance by
   * ca/issuance/serial.ts partitionOf), if it is one of this worker's CA generations.
   */
  private partitionNamedBy(payload: Readonly<Record<string, unknown>>): PartitionRef | undefined {
    const { caId, partition } = payload;
    if (typeof caId !== "string" || !parseCaId(caId) || typeof partition !== "number") return undefined;
    const authority = this.byId.get(caId as CaId);
    if (!authority || !Number.isInteger(partition) || partition < 0 || partition >= authority.partitionCount) return undefined;
    return { caId: caId as CaId, partition };
  }

  private async init(): Promise<void> {
    if (this.initialized) return;
    for (const a of this.authorities) await this.deps.store.ensurePartitions(a.caId, a.partitionCount);
    this.initialized = true;
  }

  /**
   * A CA generation made while the service runs (api/wiring/live-ca-generations.ts): its partitions are
   * recorded, and the next tick issues their first CRLs (never issued: due at once).
   */
  async addAuthority(a: CrlAuthority): Promise<void> {
    if (this.byId.has(a.caId)) return;
    await this.deps.store.ensurePartitions(a.caId, a.partitionCount);
    this.authorities.push(a);
    this.byId.set(a.caId, a);
  }

  /** Runs partitions `parallelism` at a time. */
  private async runPartitions(refs: readonly PartitionRef[], force: boolean): Promise<PartitionOutcome[]> {
    const out: PartitionOutcome[] = new Array<PartitionOutcome>(refs.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < refs.length; i = next++) out[i] = await this.runPartition(refs[i]!, force);
    };
    await Promise.all(Array.from({ length: Math.min(this.deps.settings.parallelism, refs.length) }, worker));
    return out;
  }

  private async runPartition(ref: PartitionRef, force: boolean): Promise<PartitionOutcome> {
    const { store, settings, issuer, clock } = this.deps;
    const authority = this.byId.get(ref.caId);
    if (!authority) return { ...ref, outcome: "skipped" };
    let lease;
    try {
      lease = await store.tryLease(ref, this.owner, settings.leaseSeconds);
    } catch (e) {
      this.metrics.incFailure("lease");
      this.logger.error({ ...ref, err: errorName(e) }, "CRL lease failed");
      return { ...ref, outcome: "failed", error: errorText(e) };
    }
    if (lease === undefined) return { ...ref, outcome: "busy" };
    try {
      // Decide again under the lease: another worker may have published since the states were read.
      let work: DueWork | null = { full: true, delta: true };
      if (!force) {
        const state = await store.state(ref);
        work = state ? dueWork(state, clock.now(), settings) : null;
      }
      if (work === null) return { ...ref, outcome: "skipped" };
      const issued = await issuer.issue(authority, lease, work);
      return {
        ...ref,
        outcome: "issued",
        ...(issued.full ? { fullNumber: issued.full.number, fullEntries: issued.full.entries } : {}),
        ...(issued.delta ? { deltaNumber: issued.delta.number, deltaEntries: issued.delta.entries } : {}),
      };
    } catch (e) {
      this.metrics.incFailure("issue");
      this.logger.error({ ...ref, err: errorName(e), detail: errorText(e) }, "CRL issuance failed");
      return { ...ref, outcome: "failed", error: errorText(e) };
    } finally {
      await store.release(lease).catch((e: unknown) => this.logger.warn({ ...ref, err: errorName(e) }, "CRL lease release failed (it expires)"));
    }
  }

  /** Serialises runs of this process. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

const errorName = (e: unknown): string => (e instanceof Error ? e.name : typeof e);
/** CRL errors are CaErrors about numbers, leases, keys and database state: they carry no personal data. */
const errorText = (e: unknown): string => (e instanceof CaError ? `${e.kind}: ${e.message}` : errorName(e));
