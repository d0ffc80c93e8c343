import type { OutboxTopic } from "../revocation/outbox.js";
import type { MirrorRecord, ResidentStatus } from "./resident-event-mirror.js";
import type { PolicyCertificate } from "../revocation/revocation-policy.js";
import type { SafetyValveState } from "../revocation/revocation-safety-valve.js";
import type { Tx } from "../stores.js";
import type { RevocationReason } from "../types.js";

/**
 * Ports of the resident-event processor (events/). Adapters: db/resident-event-store.ts and
 * db/resident-mirror-store.ts. Every write takes the transaction it belongs to: one batch of events
 * is one transaction (docs/design.md invariants 3 and 4).
 */

/** What is kept of an event. A duplicate is never stored: it is the outcome of a failed claim. */
export type StoredEventOutcome = "applied" | "rejected" | "deferred";
/** Every outcome a transport answers (docs/api.md §5, plus `deferred` while the safety valve is halted). */
export type EventOutcome = StoredEventOutcome | "duplicate";
export type EventTransport = "http" | "nats" | "file" | "replay";

export interface NewEventRow {
  /** The idempotency key: the eventId, or `sha256:<hex of the raw bytes>` when no eventId could be read. */
  readonly key: string;
  readonly eventId: string | null;
  readonly residentCode: string | null;
  /** The type when it is a known one. */
  readonly type: string | null;
  readonly effectiveDate: string | null;
  /** A valid event in its wire form (residentEventToJson); null for a rejected one. */
  readonly payload: Readonly<Record<string, unknown>> | null;
  /** A rejected event exactly as received (cut at the stored maximum; see rawSize), for replay. */
  readonly raw: string | null;
  /** Size in bytes of the event as received. */
  readonly rawSize: number;
  readonly transport: EventTransport;
  /** Where it came from: `http:<feed id>`, `nats:<stream seq>`, `file:<name>:<line>`. */
  readonly source: string | null;
  readonly outcome: StoredEventOutcome;
  /** Why it was rejected or deferred: a code and a field name, never personal data. */
  readonly reason: string | null;
  readonly receivedAt: Date;
}

export interface StoredEventRow extends NewEventRow {
  /** Order of arrival. */
  readonly seq: number;
  readonly revoked: readonly string[];
  readonly processedAt: Date | null;
  /** 1 + the number of replays. */
  readonly attempts: number;
}

/** The final outcome of a claimed (or replayed) event. */
export interface EventSettlement {
  readonly key: string;
  readonly outcome: StoredEventOutcome;
  readonly reason: string | null;
  readonly revoked: readonly string[];
  readonly processedAt: Date;
  /** Replay only: count one more attempt. */
  readonly replayed?: boolean;
}

/** A new event row with its final outcome. */
export interface ClaimedEventRow extends NewEventRow {
  readonly revoked: readonly string[];
  readonly processedAt: Date;
}

export interface ResidentEventStore {
  /** Which of these keys are stored already (committed, or this transaction's own). */
  existingKeys(keys: readonly string[], tx: Tx): Promise<ReadonlySet<string>>;
  /**
   * Inserts the rows whose key is new and returns those keys; a key already stored (or being stored
   * by a concurrent transaction, which this waits for) is a duplicate and is left out.
   */
  claim(rows: readonly ClaimedEventRow[], tx: Tx): Promise<ReadonlySet<string>>;
  /** Records new outcomes of stored rows locked in this transaction (replay, resume). */
  settle(settlements: readonly EventSettlement[], tx: Tx): Promise<void>;
  /** Adds `n` revocations to the breaker's count for the bucket of `at` (10-second buckets). */
  countRevocations(at: Date, n: number, tx: Tx): Promise<void>;
  /** Revocations counted from the bucket of `since` on (the breaker's window). */
  revocationsCountedSince(since: Date, tx: Tx): Promise<number>;
  /** Rows with this outcome, in arrival order, after `afterSeq`. */
  list(query: { outcome: StoredEventOutcome; afterSeq?: number; limit: number }, tx?: Tx): Promise<StoredEventRow[]>;
  get(seq: number, tx?: Tx): Promise<StoredEventRow | undefined>;
  /** The row, locked for the rest of the transaction. */
  getForUpdate(seq: number, tx: Tx): Promise<StoredEventRow | undefined>;
  /** The oldest deferred rows, locked; rows locked by another transaction are skipped. */
  nextDeferredForUpdate(limit: number, tx: Tx): Promise<StoredEventRow[]>;
  /**
   * Replay of a row stored without a readable eventId that now parses: gives it its real key and
   * fields. False when another row already has that key (the row stays as it is).
   */
  rekey(seq: number, row: Pick<NewEventRow, "key" | "eventId" | "residentCode" | "type" | "effectiveDate" | "payload">, tx: Tx): Promise<boolean>;
  /** Rows per stored outcome. */
  countByOutcome(tx?: Tx): Promise<Record<StoredEventOutcome, number>>;
}

export interface SafetyValveStore {
  /** The state, with a lock that halting is compatible with but resuming waits for (FOR KEY SHARE). */
  readShared(tx: Tx): Promise<SafetyValveState>;
  /** The state, locked exclusively (FOR UPDATE): no event transaction runs past its read meanwhile. */
  readExclusive(tx: Tx): Promise<SafetyValveState>;
  /** Halts; false when it was halted already. */
  halt(at: Date, reason: string, tx: Tx): Promise<boolean>;
  /** Runs again, with the breaker's window restarted (its counts cleared). */
  resume(at: Date, by: string, tx: Tx): Promise<void>;
  /** Without a lock (status pages, metrics). */
  read(tx?: Tx): Promise<SafetyValveState>;
}

/** A certificate of one of the residents an event batch is about. */
export type LiveCertificate = PolicyCertificate;

export interface RevocationChange {
  readonly serial: string;
  readonly reason: RevocationReason;
  readonly revokedAt: Date;
  readonly invalidityDate: Date | null;
}

/** Set-wise revocation for event batches (one statement per batch rather than one per certificate). */
export interface RevocationBatchStore {
  /**
   * Live (pending/valid/hold) certificates of these residents, by resident code. With
   * `withRecorded: false` their `recorded` is empty (the policy needs it for alias and minor-correction
   * events only).
   */
  liveCertificatesOf(residentCodes: readonly string[], tx: Tx, options?: { withRecorded?: boolean }): Promise<Map<string, LiveCertificate[]>>;
  /**
   * Sets status `revoked` with reason and dates where the certificate is still revocable (pending,
   * valid, hold); returns the serials actually changed.
   */
  revokeMany(changes: readonly RevocationChange[], tx: Tx): Promise<ReadonlySet<string>>;
  /** Outbox rows (docs/design.md invariant 3), in order. */
  addOutbox(messages: ReadonlyArray<{ topic: OutboxTopic; payload: Readonly<Record<string, unknown>> }>, tx: Tx): Promise<void>;
}

export interface MirrorChange {
  readonly previous: MirrorRecord;
  readonly next: MirrorRecord;
  /** A value changed: `previous` is kept as a superseded row. */
  readonly superseded: boolean;
  /** The event key that superseded it. */
  readonly by: string;
}

/** A superseded version of a resident record. */
export interface MirrorHistoryEntry {
  readonly residentCode: string;
  readonly name: string;
  readonly nameSubstituteFlags: string;
  readonly alias: string | null;
  readonly aliasSubstituteFlags: string | null;
  readonly dateOfBirth: string;
  readonly gender: number;
  readonly address: string;
  readonly addressSubstituteFlags: string;
  readonly status: ResidentStatus;
  /** When this version became current, and when it was superseded (and by which event key). */
  readonly validFrom: Date;
  readonly supersededAt: Date;
  readonly supersededBy: string;
}

/** The resident record mirror with its history (tables residents and resident_history). */
export interface ResidentMirrorStore {
  /** The records of these residents, locked (`FOR UPDATE`, in code order) for the transaction. */
  lockMany(residentCodes: readonly string[], tx: Tx): Promise<Map<string, MirrorRecord>>;
  /** Writes new versions; keeps superseded ones in the history. */
  saveMany(changes: readonly MirrorChange[], at: Date, tx: Tx): Promise<void>;
  /** Superseded versions of one resident, oldest first. */
  history(residentCode: string, tx?: Tx): Promise<MirrorHistoryEntry[]>;
  /** Superseded rows with supersededAt before `before`. */
  countSupersededBefore(before: Date, tx?: Tx): Promise<number>;
  /** Deletes up to `limit` of them; returns how many. */
  deleteSupersededBefore(before: Date, limit: number, tx: Tx): Promise<number>;
}
