import { JST_OFFSET_MS, parseIsoDate } from "../ca/calendar-date.js";
import type { ResidentEvent } from "../ca/residents/resident-event.js";
import { applyEventToMirror } from "../ca/residents/resident-event-mirror.js";
import type {
  ClaimedEventRow,
  MirrorChange,
  NewEventRow,
  ResidentEventStore,
  ResidentMirrorStore,
  RevocationBatchStore,
  RevocationChange,
  SafetyValveStore,
  StoredEventOutcome,
} from "../ca/residents/resident-event-ports.js";
import { decideRevocations, type MinorCorrectionPredicate } from "../ca/revocation/revocation-policy.js";
import { BreakerBudget, breakerWindowStart, type SafetyValveLimits, type SafetyValveState } from "../ca/revocation/revocation-safety-valve.js";
import type { Tx } from "../ca/stores.js";

/**
 * Applies events inside the caller's one transaction: the heart of the processor, shared by every
 * transport, replay and resume. In order:
 *  1. the safety valve is read (halted: every event is stored `deferred`, nothing else happens);
 *  2. the residents' records are locked, so two transactions with events of one resident (or the same
 *     event twice) take turns; then events already stored are set aside as duplicates;
 *  3. per event: docs/domain.md §3 decided against the live certificates, the per-event cap and the rate
 *     breaker checked, the record updated by the newest-wins rule;
 *  4. certificates revoked (revocation time = now, invalidity date = the effective date);
 *  5. each new event stored once, with its final outcome (or, on replay/resume, its row updated);
 *  6. outbox rows, record versions with their superseded history, the breaker's count, the halt.
 * The audit entries follow in the caller (events/resident-event-audit.ts), last, so the audit chain's
 * lock is held for as short a time as possible.
 */

export interface ApplyItem {
  readonly key: string;
  readonly event: ResidentEvent;
  /** The row to store for a new event (mode "claim"); its outcome is filled in here. */
  readonly row?: NewEventRow;
}

export interface AppliedOutcome {
  readonly outcome: StoredEventOutcome;
  readonly reason: string | null;
  readonly revoked: readonly string[];
  /** The docs/domain.md §3 line that decided (applied events). */
  readonly rule: string | null;
}

export type Alarm =
  | { readonly kind: "revocation-cap"; readonly key: string; readonly residentCode: string; readonly wouldRevoke: number; readonly cap: number }
  | { readonly kind: "rate-breaker"; readonly key: string; readonly inWindow: number; readonly wouldRevoke: number; readonly limit: number; readonly windowMs: number };

export interface ApplyResult {
  /** Outcomes of the events stored or updated by this transaction (duplicates are absent). */
  readonly outcomes: ReadonlyMap<string, AppliedOutcome>;
  /** Keys of new rows this transaction stored (mode "claim"), rejected-on-arrival rows included. */
  readonly claimed: ReadonlySet<string>;
  readonly alarms: readonly Alarm[];
  /** The valve as read (undefined when the breaker was not consulted). */
  readonly valve: SafetyValveState | undefined;
  /** This transaction halted the valve. */
  readonly halted: boolean;
  /** Card certificates revoked (what the breaker counts; phone certificates that followed them are not). */
  readonly revocations: number;
}

export interface ApplyMode {
  /** Consult the valve and the rate breaker (off while resume drains an approved backlog). */
  readonly breaker: boolean;
  /** An operator's replay with the per-event cap overridden after review. */
  readonly allowOverCap: boolean;
  /** "claim": new events, stored here; "settle": stored rows locked by the caller (replay, resume). */
  readonly persist: "claim" | "settle";
}

export interface ApplierDeps {
  readonly events: Pick<ResidentEventStore, "existingKeys" | "claim" | "settle" | "countRevocations" | "revocationsCountedSince">;
  readonly valve: Pick<SafetyValveStore, "readShared" | "halt">;
  readonly revocations: RevocationBatchStore;
  readonly mirror: Pick<ResidentMirrorStore, "lockMany" | "saveMany">;
  readonly limits: SafetyValveLimits;
  readonly isMinor: MinorCorrectionPredicate;
}

/**
 * Another transaction stored an event this one had already applied in memory (possible only when a
 * feed reuses one eventId for two residents): the transaction is rolled back and retried, and then sees
 * the event as a duplicate.
 */
export class EventClaimRace extends Error {
  constructor() {
    super("an event was stored concurrently; retry the transaction");
    this.name = "EventClaimRace";
  }
}

/**
 * RFC 5280 §5.3.2 invalidity date: when the certificate became wrong, i.e. 00:00 JST on the effective
 * date of the change, but never later than the revocation itself (a change announced ahead).
 */
export function invalidityDateOf(effectiveDate: string, revokedAt: Date): Date {
  const d = parseIsoDate(effectiveDate);
  if (!d) return revokedAt;
  const midnight = new Date(0);
  midnight.setUTCFullYear(d.year, d.month - 1, d.day);
  return new Date(Math.min(midnight.getTime() - JST_OFFSET_MS, revokedAt.getTime()));
}

const DEFERRED: AppliedOutcome = { outcome: "deferred", reason: "safety-valve-halted: waiting for a ca-operator to resume", revoked: [], rule: null };

/**
 * @param arrivals rows rejected on arrival (malformed), stored in the same statement as the new events
 */
export async function applyEvents(
  deps: ApplierDeps,
  items: readonly ApplyItem[],
  now: Date,
  mode: ApplyMode,
  tx: Tx,
  arrivals: readonly ClaimedEventRow[] = [],
  order?: ReadonlyMap<string, number>,
): Promise<ApplyResult> {
  const outcomes = new Map<string, AppliedOutcome>();
  const alarms: Alarm[] = [];
  const valve = mode.breaker && items.length > 0 ? await deps.valve.readShared(tx) : undefined;
  if (valve?.halted || items.length === 0) {
    for (const item of items) outcomes.set(item.key, DEFERRED);
    const claimed = await persist(deps, items, outcomes, new Set(), now, mode, tx, arrivals, order);
    return { outcomes: only(outcomes, claimed, mode), claimed, alarms, valve, halted: false, revocations: 0 };
  }

  const codes = [...new Set(items.map((i) => i.event.residentCode))];
  const records = await deps.mirror.lockMany(codes, tx);
  // After the locks: a concurrent transaction with the same event has committed by now.
  const stored = mode.persist === "claim" ? await deps.events.existingKeys([...items.map((i) => i.key), ...arrivals.map((r) => r.key)], tx) : new Set<string>();
  const fresh = items.filter((i) => !stored.has(i.key));
  // What issuance recorded matters only to alias changes and minor corrections (revocation-policy.ts).
  const withRecorded = fresh.some((i) => i.event.type === "ALIAS_CHANGED" || i.event.type === "MINOR_CORRECTION");
  const live = await deps.revocations.liveCertificatesOf(codes, tx, { withRecorded });
  const budget = valve ? new BreakerBudget(deps.limits.maxRevocationsInWindow, await deps.events.revocationsCountedSince(breakerWindowStart(now, valve, deps.limits), tx)) : null;

  const mirrorChanges: MirrorChange[] = [];
  const changes: RevocationChange[] = [];
  const planned = new Map<string, { caId: string; partition: number; reason: string }>();
  /** Phone certificates revoked with the card's: outside the breaker's count (unless configured in). */
  const uncounted = new Set<string>();
  const effectful = new Set<string>();
  const countsForValve = (r: { readonly cascaded: boolean }): boolean => !r.cascaded || deps.limits.countPhoneCertificates === true;
  let tripped = false;
  for (const { key, event } of fresh) {
    if (tripped) {
      outcomes.set(key, { ...DEFERRED, reason: "safety-valve-halted: rate breaker tripped" });
      continue;
    }
    const record = records.get(event.residentCode);
    if (!record) {
      outcomes.set(key, { outcome: "rejected", reason: "unknown-resident: no resident record with this residentCode", revoked: [], rule: null });
      continue;
    }
    const certificates = live.get(event.residentCode) ?? [];
    const decision = decideRevocations(event, certificates, { isMinor: deps.isMinor, now });
    // The cap and the rate breaker count card certificates only, as before phone certificates existed
    // (the phone ones follow the card's: ca/revocation/revocation-policy.ts, issue #16), unless configured
    // otherwise (SafetyValveLimits.countPhoneCertificates) [U].
    const n = decision.revocations.filter((r) => countsForValve(r)).length;
    if (n > deps.limits.maxRevocationsPerEvent && !mode.allowOverCap) {
      alarms.push({ kind: "revocation-cap", key, residentCode: event.residentCode, wouldRevoke: n, cap: deps.limits.maxRevocationsPerEvent });
      outcomes.set(key, { outcome: "rejected", reason: `revocation-cap-exceeded: would revoke ${n} certificates, at most ${deps.limits.maxRevocationsPerEvent}`, revoked: [], rule: null });
      effectful.add(key);
      continue;
    }
    if (budget && !budget.tryTake(n)) {
      tripped = true;
      alarms.push({ kind: "rate-breaker", key, inWindow: budget.inWindow, wouldRevoke: n, limit: deps.limits.maxRevocationsInWindow, windowMs: deps.limits.windowMs });
      outcomes.set(key, { ...DEFERRED, reason: "safety-valve-halted: rate breaker tripped" });
      continue;
    }
    const update = applyEventToMirror(record, event, now);
    if (update.dirty) {
      mirrorChanges.push({ previous: record, next: update.next, superseded: update.changed.length > 0, by: key });
      records.set(event.residentCode, update.next);
    }
    const invalidityDate = invalidityDateOf(event.effectiveDate, now);
    for (const r of decision.revocations) {
      changes.push({ serial: r.serial, reason: r.reason, revokedAt: now, invalidityDate });
      planned.set(r.serial, { caId: r.caId, partition: r.partition, reason: r.reason });
      if (!countsForValve(r)) uncounted.add(r.serial);
    }
    // A later event of the same batch sees these certificates gone.
    const gone = new Set(decision.revocations.map((r) => r.serial));
    live.set(event.residentCode, certificates.filter((c) => !gone.has(c.serial)));
    outcomes.set(key, { outcome: "applied", reason: null, revoked: decision.revocations.map((r) => r.serial), rule: decision.rule });
    effectful.add(key);
  }

  // A certificate revoked meanwhile by someone else (an operator, an issuance superseding it) is not
  // revoked twice and not reported as revoked by this event.
  const changed = changes.length > 0 ? await deps.revocations.revokeMany(changes, tx) : new Set<string>();
  let revocations = 0;
  for (const [key, o] of outcomes) {
    if (o.outcome !== "applied" || o.revoked.length === 0) continue;
    const revoked = o.revoked.filter((s) => changed.has(s));
    revocations += revoked.filter((s) => !uncounted.has(s)).length;
    if (revoked.length !== o.revoked.length) outcomes.set(key, { ...o, revoked });
  }
  const claimed = await persist(deps, fresh, outcomes, effectful, now, mode, tx, arrivals.filter((r) => !stored.has(r.key)), order);

  const outbox = [...changed].map((serial) => {
    const p = planned.get(serial)!;
    return { topic: "certificate.revoked" as const, payload: { serial, caId: p.caId, partition: p.partition, reason: p.reason } };
  });
  if (outbox.length > 0) await deps.revocations.addOutbox(outbox, tx);
  await deps.mirror.saveMany(mirrorChanges, now, tx);
  if (budget && revocations > 0) await deps.events.countRevocations(now, revocations, tx);
  const halted = tripped ? await deps.valve.halt(now, "rate-breaker", tx) : false;
  return { outcomes: only(outcomes, claimed, mode), claimed, alarms, valve, halted, revocations };
}

/** Stores new rows with their outcome, or updates locked rows; returns the keys this transaction stored. */
async function persist(
  deps: ApplierDeps,
  items: readonly ApplyItem[],
  outcomes: ReadonlyMap<string, AppliedOutcome>,
  effectful: ReadonlySet<string>,
  now: Date,
  mode: ApplyMode,
  tx: Tx,
  arrivals: readonly ClaimedEventRow[],
  order: ReadonlyMap<string, number> | undefined,
): Promise<ReadonlySet<string>> {
  if (mode.persist === "settle") {
    await deps.events.settle(items.map((i) => ({ key: i.key, ...settlementOf(outcomes.get(i.key)!), processedAt: now, replayed: true })), tx);
    return new Set(items.map((i) => i.key));
  }
  const rows: ClaimedEventRow[] = [...arrivals];
  for (const item of items) {
    const o = outcomes.get(item.key)!;
    if (!item.row) throw new Error("a new event needs its row");
    rows.push({ ...item.row, outcome: o.outcome, reason: o.reason, revoked: o.revoked, processedAt: now });
  }
  // Stored in the order received, so `seq` is the arrival order.
  if (order) rows.sort((a, b) => (order.get(a.key) ?? 0) - (order.get(b.key) ?? 0));
  const claimed = await deps.events.claim(rows, tx);
  for (const key of effectful) if (!claimed.has(key)) throw new EventClaimRace();
  return claimed;
}

function settlementOf(o: AppliedOutcome): { outcome: StoredEventOutcome; reason: string | null; revoked: readonly string[] } {
  return { outcome: o.outcome, reason: o.reason, revoked: o.revoked };
}

function only(outcomes: Map<string, AppliedOutcome>, keep: ReadonlySet<string>, mode: ApplyMode): ReadonlyMap<string, AppliedOutcome> {
  if (mode.persist === "settle") return outcomes;
  for (const key of [...outcomes.keys()]) if (!keep.has(key)) outcomes.delete(key);
  return outcomes;
}
