import { CaError } from "../ca/errors.js";
import type { Clock } from "../ca/ports.js";
import { residentEventToJson } from "../ca/residents/resident-event.js";
import type {
  ClaimedEventRow,
  EventOutcome,
  EventTransport,
  NewEventRow,
  ResidentEventStore,
  ResidentMirrorStore,
  RevocationBatchStore,
  SafetyValveStore,
  StoredEventRow,
} from "../ca/residents/resident-event-ports.js";
import { certifiedFieldsUnchanged, type MinorCorrectionPredicate } from "../ca/revocation/revocation-policy.js";
import { defaultSafetyValveLimits, validateSafetyValveLimits, type SafetyValveLimits, type SafetyValveState } from "../ca/revocation/revocation-safety-valve.js";
import type { AuditStore, TransactionRunner, Tx } from "../ca/stores.js";
import { noEventMetrics, type EventMetrics } from "./event-metrics.js";
import { applyEvents, EventClaimRace, type ApplierDeps, type ApplyItem, type ApplyResult } from "./resident-event-applier.js";
import { auditApplyResult } from "./resident-event-audit.js";
import { MAX_EVENT_BYTES, parseResidentEvent, type ParsedEvent, type RawEvent } from "./resident-event-schema.js";

/**
 * The idempotent processor of resident change events (docs/design.md invariant 4), behind every transport.
 *
 * `process` handles a batch: each event is validated (docs/api.md §5), then chunks of `batchSize` (1,000)
 * events are each ONE transaction: claim the event rows (a unique key: a duplicate claims nothing and
 * changes nothing), apply the claimed ones (events/resident-event-applier.ts), one audit entry for the
 * chunk plus one per alarm. Rejected events are stored with their reason and kept; operators list
 * and `replay` them. When the safety valve halts, events are stored as `deferred` until `resume`.
 * A transport acknowledges an event only after `process` returned, i.e. after the commit.
 */

export interface EventInput {
  readonly raw: RawEvent;
  /** Where it came from, for the stored row: `nats:<stream seq>`, `file:<name>:<line>`, `http:<feed id>`. */
  readonly source?: string | null;
  /** NATS `Nats-Msg-Id`: must equal the eventId (docs/api.md §5). */
  readonly msgId?: string;
}

/** One outcome per event, in input order (docs/api.md §5 HTTP answer). */
export interface EventResult {
  readonly eventId: string | null;
  readonly outcome: EventOutcome;
  readonly revoked: readonly string[];
  readonly reason?: string;
}

export interface ResidentEventProcessorDeps {
  readonly clock: Clock;
  readonly transactions: TransactionRunner;
  readonly events: ResidentEventStore;
  readonly valve: SafetyValveStore;
  readonly revocations: RevocationBatchStore;
  readonly mirror: ResidentMirrorStore;
  readonly audit: AuditStore;
  readonly metrics?: EventMetrics;
  /** Errors after which the whole transaction is retried (db/resident-event-store.ts isTransientDatabaseError). */
  readonly isTransient?: (err: unknown) => boolean;
}

export interface ResidentEventProcessorOptions {
  readonly limits?: SafetyValveLimits;
  readonly isMinor?: MinorCorrectionPredicate;
  /** Events per transaction (default 1,000). */
  readonly batchSize?: number;
  readonly maxEventBytes?: number;
}

export interface ResumeReport {
  readonly applied: number;
  readonly rejected: number;
  readonly deferredRejected: number;
  readonly revoked: number;
  /** The valve was halted and is running now. */
  readonly resumed: boolean;
}

const TRANSACTION_ATTEMPTS = 3;

export class ResidentEventProcessor {
  private readonly metrics: EventMetrics;
  private readonly limits: SafetyValveLimits;
  private readonly batchSize: number;
  private readonly maxEventBytes: number;
  private readonly applier: ApplierDeps;

  constructor(
    private readonly deps: ResidentEventProcessorDeps,
    options: ResidentEventProcessorOptions = {},
  ) {
    this.metrics = deps.metrics ?? noEventMetrics;
    this.limits = validateSafetyValveLimits(options.limits ?? defaultSafetyValveLimits);
    this.batchSize = options.batchSize ?? 1000;
    this.maxEventBytes = options.maxEventBytes ?? MAX_EVENT_BYTES;
    this.applier = { events: deps.events, valve: deps.valve, revocations: deps.revocations, mirror: deps.mirror, limits: this.limits, isMinor: options.isMinor ?? certifiedFieldsUnchanged };
  }

  /** Validates and applies a batch from one transport; one outcome per input, in order. */
  async process(inputs: readonly EventInput[], transport: EventTransport, actor = `feed:${transport}`): Promise<EventResult[]> {
    const parsed = inputs.map((input) => this.parse(input));
    const results: EventResult[] = [];
    for (let i = 0; i < parsed.length; i += this.batchSize) {
      const chunk = parsed.slice(i, i + this.batchSize);
      const sources = inputs.slice(i, i + this.batchSize).map((x) => x.source ?? null);
      const started = performance.now();
      const { results: chunkResults, applied } = await this.inTransaction((tx) => this.processChunk(chunk, sources, transport, actor, tx));
      this.metrics.batchSeconds(transport, (performance.now() - started) / 1000);
      this.report(transport, chunkResults, applied);
      results.push(...chunkResults);
    }
    return results;
  }

  /** A ca-operator's replay of a rejected event after a fix (optionally over the per-event cap). */
  async replay(seq: number, actor: string, options: { allowOverCap?: boolean } = {}): Promise<EventResult> {
    const { result, applied } = await this.inTransaction(async (tx) => {
      const now = this.now();
      const row = await this.deps.events.getForUpdate(seq, tx);
      if (!row) throw new CaError("not-found", "no stored event with this sequence number");
      if (row.outcome !== "rejected") throw new CaError("conflict", `the event is ${row.outcome}; only rejected events are replayed (deferred ones by resume)`);
      const parsed = storedEvent(row, this.maxEventBytes);
      const settleRejected = async (reason: string): Promise<{ result: EventResult; applied: ApplyResult | undefined }> => {
        await this.deps.events.settle([{ key: row.key, outcome: "rejected", reason, revoked: [], processedAt: now, replayed: true }], tx);
        await this.deps.audit.append({ at: now, action: "resident-event.replayed", actor, subject: `resident-event:${seq}`, outcome: "failure", detail: { seq, eventId: row.eventId, reason } }, tx);
        return { result: { eventId: row.eventId, outcome: "rejected", revoked: [], reason }, applied: undefined };
      };
      if (!parsed.ok) return settleRejected(parsed.reason);
      if (parsed.key !== row.key) {
        const e = parsed.event;
        const rekeyed = await this.deps.events.rekey(seq, { key: parsed.key, eventId: e.eventId, residentCode: e.residentCode, type: e.type, effectiveDate: e.effectiveDate, payload: residentEventToJson(e) }, tx);
        if (!rekeyed) return settleRejected("duplicate-event-id: another stored event has this eventId");
      }
      const applied = await applyEvents(this.applier, [{ key: parsed.key, event: parsed.event }], now, { breaker: true, allowOverCap: options.allowOverCap === true, persist: "settle" }, tx);
      await auditApplyResult(this.deps.audit, applied, [{ key: parsed.key, event: parsed.event }], { action: "resident-event.replayed", actor, transport: "replay", now, detail: { seq, allowOverCap: options.allowOverCap === true } }, tx);
      const o = applied.outcomes.get(parsed.key)!;
      return { result: { eventId: parsed.event.eventId, outcome: o.outcome, revoked: o.revoked, ...(o.reason ? { reason: o.reason } : {}) }, applied };
    });
    this.report("replay", [result], applied);
    return result;
  }

  /**
   * A ca-operator resumes a halted valve. The deferred backlog is applied in arrival order without the
   * rate breaker (the operator approved exactly it; the per-event cap still holds), or with
   * `deferred: "reject"` rejected and kept for replay one by one. The valve runs again once no deferred
   * event is left; events arriving meanwhile join the backlog.
   */
  async resume(actor: string, options: { deferred?: "apply" | "reject" } = {}): Promise<ResumeReport> {
    const mode = options.deferred ?? "apply";
    let applied = 0;
    let rejected = 0;
    let deferredRejected = 0;
    let revoked = 0;
    let resumed = false;
    for (;;) {
      const step = await this.inTransaction(async (tx) => {
        const now = this.now();
        const rows = await this.deps.events.nextDeferredForUpdate(this.batchSize, tx);
        if (rows.length === 0) {
          // Exclusive: every event transaction that read "halted" has committed its deferred row.
          const state = await this.deps.valve.readExclusive(tx);
          if ((await this.deps.events.list({ outcome: "deferred", limit: 1 }, tx)).length > 0) return { done: false as const };
          if (state.halted) {
            await this.deps.valve.resume(now, actor, tx);
            await this.deps.audit.append({ at: now, action: "events.safety-valve.resumed", actor, subject: "event-safety-valve", outcome: "success", detail: { haltedAt: state.haltedAt?.toISOString() ?? null, haltReason: state.haltReason, deferredMode: mode } }, tx);
          }
          return { done: true as const, resumed: state.halted };
        }
        if (mode === "reject") {
          const reason = "rejected-by-operator: deferred while the safety valve was halted";
          await this.deps.events.settle(rows.map((r) => ({ key: r.key, outcome: "rejected" as const, reason, revoked: [], processedAt: now, replayed: true })), tx);
          await this.deps.audit.append({ at: now, action: "resident-events.deferred-rejected", actor, subject: null, outcome: "success", detail: { events: rows.map((r) => ({ seq: r.seq, eventId: r.eventId, residentCode: r.residentCode })) } }, tx);
          return { done: false as const, rejectedDeferred: rows.length };
        }
        const items: ApplyItem[] = [];
        const broken: string[] = [];
        for (const row of rows) {
          const p = storedEvent(row, this.maxEventBytes);
          if (p.ok) items.push({ key: row.key, event: p.event });
          else broken.push(row.key);
        }
        if (broken.length > 0) {
          await this.deps.events.settle(broken.map((key) => ({ key, outcome: "rejected" as const, reason: "invalid-field: stored payload no longer valid", revoked: [], processedAt: now, replayed: true })), tx);
        }
        const result = await applyEvents(this.applier, items, now, { breaker: false, allowOverCap: false, persist: "settle" }, tx);
        await auditApplyResult(this.deps.audit, result, items, { action: "resident-events.processed", actor, transport: "replay", now, detail: { resume: true } }, tx);
        return { done: false as const, result, broken: broken.length };
      });
      if (step.done) {
        resumed = step.resumed;
        break;
      }
      if ("rejectedDeferred" in step && step.rejectedDeferred) {
        deferredRejected += step.rejectedDeferred;
        this.metrics.outcomes("replay", "rejected", step.rejectedDeferred);
      }
      if ("result" in step && step.result) {
        const outcomes = [...step.result.outcomes.values()];
        applied += outcomes.filter((o) => o.outcome === "applied").length;
        rejected += outcomes.filter((o) => o.outcome === "rejected").length + step.broken;
        revoked += step.result.revocations;
        this.report("replay", outcomes.map((o) => ({ eventId: null, outcome: o.outcome, revoked: o.revoked })), step.result);
      }
    }
    if (resumed) this.metrics.valveHalted(false);
    return { applied, rejected, deferredRejected, revoked, resumed };
  }

  /** Halts the valve by hand (a ca-operator who distrusts the feed); false when already halted. */
  async halt(actor: string): Promise<boolean> {
    const halted = await this.inTransaction(async (tx) => {
      const now = this.now();
      const changed = await this.deps.valve.halt(now, "operator", tx);
      if (changed) await this.deps.audit.append({ at: now, action: "events.safety-valve.halted", actor, subject: "event-safety-valve", outcome: "success", detail: { reason: "operator" } }, tx);
      return changed;
    });
    if (halted) {
      this.metrics.valveHalted(true);
      this.metrics.valveAlarm("operator");
    }
    return halted;
  }

  /** The valve and the stored events per outcome. */
  async status(): Promise<{ valve: SafetyValveState; events: Record<"applied" | "rejected" | "deferred", number>; limits: SafetyValveLimits }> {
    const valve = await this.deps.valve.read();
    this.metrics.valveHalted(valve.halted);
    return { valve, events: await this.deps.events.countByOutcome(), limits: this.limits };
  }

  /** One stored event by its sequence number (any outcome). */
  get(seq: number): Promise<StoredEventRow | undefined> {
    return this.deps.events.get(seq);
  }

  /** Rejected (or deferred) events, oldest first. */
  list(outcome: "rejected" | "deferred", afterSeq = 0, limit = 100): Promise<StoredEventRow[]> {
    return this.deps.events.list({ outcome, afterSeq, limit: Math.min(Math.max(limit, 1), 1000) });
  }

  private parse(input: EventInput): ParsedEvent {
    return parseResidentEvent(input.raw, { maxBytes: this.maxEventBytes, ...(input.msgId !== undefined ? { msgId: input.msgId } : {}) });
  }

  private async processChunk(chunk: readonly ParsedEvent[], sources: ReadonlyArray<string | null>, transport: EventTransport, actor: string, tx: Tx): Promise<{ results: EventResult[]; applied: ApplyResult }> {
    const now = this.now();
    const firstOfKey = new Map<string, number>();
    const items: ApplyItem[] = [];
    const arrivals: ClaimedEventRow[] = [];
    chunk.forEach((p, i) => {
      if (firstOfKey.has(p.key)) return;
      firstOfKey.set(p.key, i);
      const row = rowOf(p, transport, sources[i] ?? null, now);
      if (p.ok) items.push({ key: p.key, event: p.event, row });
      else arrivals.push({ ...row, revoked: [], processedAt: now });
    });
    const applied = await applyEvents(this.applier, items, now, { breaker: true, allowOverCap: false, persist: "claim" }, tx, arrivals, firstOfKey);
    const rejectedOnArrival = chunk.filter((p, i): p is Extract<ParsedEvent, { ok: false }> => !p.ok && firstOfKey.get(p.key) === i && applied.claimed.has(p.key));
    await auditApplyResult(this.deps.audit, applied, items.filter((i) => applied.outcomes.has(i.key)), { action: "resident-events.processed", actor, transport, now, rejectedOnArrival }, tx);
    const results = chunk.map((p, i): EventResult => {
      const eventId = p.ok ? p.event.eventId : p.eventId;
      if (firstOfKey.get(p.key) !== i || !applied.claimed.has(p.key)) return { eventId, outcome: "duplicate", revoked: [] };
      if (!p.ok) return { eventId, outcome: "rejected", revoked: [], reason: p.reason };
      const o = applied.outcomes.get(p.key)!;
      return { eventId, outcome: o.outcome, revoked: o.revoked, ...(o.reason ? { reason: o.reason } : {}) };
    });
    return { results, applied };
  }

  /** After commit: metrics (so rolled-back work is never counted). */
  private report(transport: EventTransport, results: readonly EventResult[], applied: ApplyResult | undefined): void {
    const counts = new Map<EventOutcome, number>();
    for (const r of results) counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1);
    for (const [outcome, n] of counts) this.metrics.outcomes(transport, outcome, n);
    if (!applied) return;
    if (applied.revocations > 0) this.metrics.revocations(applied.revocations);
    if (applied.valve) this.metrics.valveHalted(applied.valve.halted || applied.halted);
    for (const alarm of applied.alarms) this.metrics.valveAlarm(alarm.kind);
  }

  private async inTransaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.deps.transactions.transaction(work);
      } catch (err) {
        if (attempt >= TRANSACTION_ATTEMPTS || !(err instanceof EventClaimRace || this.deps.isTransient?.(err))) throw err;
      }
    }
  }

  private now(): Date {
    return new Date(Math.floor(this.deps.clock.now().getTime() / 1000) * 1000);
  }
}

/** A stored row back into a parsed event: the valid payload, or the raw bytes of a rejected one. */
function storedEvent(row: StoredEventRow, maxBytes: number): ParsedEvent {
  if (row.payload) return parseResidentEvent({ json: row.payload }, { maxBytes: Number.MAX_SAFE_INTEGER });
  const raw = row.raw ?? "";
  if (row.rawSize > maxBytes || row.rawSize > Buffer.byteLength(raw, "utf8")) {
    // Too large, or cut when stored: what is kept is not the event as sent.
    return { ok: false, key: row.key, eventId: row.eventId, residentCode: row.residentCode, type: null, effectiveDate: row.effectiveDate, reason: `too-large: ${row.rawSize} bytes, at most ${maxBytes}`, raw, size: row.rawSize };
  }
  return parseResidentEvent({ text: raw }, { maxBytes });
}

function rowOf(p: ParsedEvent, transport: EventTransport, source: string | null, now: Date): NewEventRow {
  if (p.ok) {
    const e = p.event;
    return { key: p.key, eventId: e.eventId, residentCode: e.residentCode, type: e.type, effectiveDate: e.effectiveDate, payload: residentEventToJson(e), raw: null, rawSize: p.size, transport, source, outcome: "applied", reason: null, receivedAt: now };
  }
  return { key: p.key, eventId: p.eventId, residentCode: p.residentCode, type: p.type, effectiveDate: p.effectiveDate, payload: null, raw: p.raw, rawSize: p.size, transport, source, outcome: "rejected", reason: p.reason, receivedAt: now };
}
