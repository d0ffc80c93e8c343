import type { OutboxTopic } from "../ca/revocation/outbox.js";
import type {
  ClaimedEventRow,
  EventSettlement,
  LiveCertificate,
  NewEventRow,
  ResidentEventStore,
  RevocationBatchStore,
  RevocationChange,
  SafetyValveStore,
  StoredEventOutcome,
  StoredEventRow,
} from "../ca/residents/resident-event-ports.js";
import type { SafetyValveState } from "../ca/revocation/revocation-safety-valve.js";
import type { Tx } from "../ca/stores.js";
import type { CaId, CaKind, CertificateStatus } from "../ca/types.js";
import { dateFromColumn, jsonToParameter, nullableDateFromColumn, objectFromColumn, rowsOf } from "./column-values.js";
import type { Database } from "./database.js";
import { sqlState } from "./database-errors.js";

type Row = Record<string, unknown>;

/** Rows per set-wise statement (one jsonb parameter each; keeps statements and memory bounded). */
const CHUNK = 1000;
/** The breaker counts revocations in buckets of 10 seconds; buckets older than a day are dropped. */
const BUCKET_MS = 10_000;
const BUCKET_RETENTION_MS = 86_400_000;
const bucketOf = (at: Date): Date => new Date(Math.floor(at.getTime() / BUCKET_MS) * BUCKET_MS);

/**
 * The resident-event tables on PostgreSQL / PGlite (migration 0011): resident_events (one row per
 * event received, unique event_key), event_safety_valve (the breaker's shared state), and set-wise
 * revocation of certificates with their outbox rows for event batches.
 *
 * Set-wise statements take their rows as one jsonb array (`jsonb_to_recordset`), so a batch of 500
 * events is a handful of statements, not thousands (issue: ≥ 5,000 events/s).
 */
export class KnexResidentEventStore implements ResidentEventStore, SafetyValveStore, RevocationBatchStore {
  constructor(private readonly db: Database) {}

  // ---------------------------------------------------------------- events

  async existingKeys(keys: readonly string[], tx: Tx): Promise<ReadonlySet<string>> {
    const k = this.db.executor(tx);
    const found = new Set<string>();
    for (let i = 0; i < keys.length; i += CHUNK) {
      const result = await k.raw("select event_key from resident_events where event_key in (select jsonb_array_elements_text(?::jsonb))", [jsonToParameter(keys.slice(i, i + CHUNK))]);
      for (const r of rowsOf(result)) found.add(String(r.event_key));
    }
    return found;
  }

  async claim(rows: readonly ClaimedEventRow[], tx: Tx): Promise<ReadonlySet<string>> {
    const k = this.db.executor(tx);
    const claimed = new Set<string>();
    // Arrival order, so seq is the order received. Two transactions claiming the same keys in another
    // order can deadlock; PostgreSQL then aborts one and the processor retries it (isTransientDatabaseError).
    for (let i = 0; i < rows.length; i += CHUNK) {
      const records = rows.slice(i, i + CHUNK).map((r) => ({
        event_key: r.key,
        event_id: r.eventId,
        resident_code: r.residentCode,
        type: r.type,
        effective_date: r.effectiveDate,
        payload: r.payload,
        raw: r.raw,
        raw_size: r.rawSize,
        transport: r.transport,
        source: r.source,
        outcome: r.outcome,
        reason: r.reason,
        revoked: r.revoked,
        received_at: r.receivedAt.toISOString(),
        processed_at: r.processedAt.toISOString(),
      }));
      // Rows go in once, with their final outcome. ON CONFLICT DO NOTHING waits for a concurrent
      // insert of the same key and skips it once that commits: exactly one transaction stores each event.
      const result = await k.raw(
        `insert into resident_events (event_key, event_id, resident_code, type, effective_date, payload, raw, raw_size,
                                      transport, source, outcome, reason, revoked, revoked_count, received_at, processed_at)
         select v.event_key, v.event_id, v.resident_code, v.type, v.effective_date, v.payload, v.raw, v.raw_size,
                v.transport, v.source, v.outcome, v.reason, v.revoked, jsonb_array_length(v.revoked), v.received_at, v.processed_at
         from jsonb_to_recordset(?::jsonb) as v(event_key text, event_id text, resident_code text, type text,
              effective_date text, payload jsonb, raw text, raw_size integer, transport text, source text, outcome text,
              reason text, revoked jsonb, received_at timestamptz, processed_at timestamptz)
         on conflict (event_key) do nothing
         returning event_key`,
        [jsonToParameter(records)],
      );
      for (const row of rowsOf(result)) claimed.add(String(row.event_key));
    }
    return claimed;
  }

  async settle(settlements: readonly EventSettlement[], tx: Tx): Promise<void> {
    const k = this.db.executor(tx);
    for (let i = 0; i < settlements.length; i += CHUNK) {
      const records = settlements.slice(i, i + CHUNK).map((s) => ({
        event_key: s.key,
        outcome: s.outcome,
        reason: s.reason,
        revoked: s.revoked,
        processed_at: s.processedAt.toISOString(),
        replayed: s.replayed === true,
      }));
      await k.raw(
        `update resident_events e set
           outcome = v.outcome, reason = v.reason, revoked = v.revoked, revoked_count = jsonb_array_length(v.revoked),
           processed_at = v.processed_at,
           attempts = e.attempts + (case when v.replayed then 1 else 0 end)
         from jsonb_to_recordset(?::jsonb) as v(event_key text, outcome text, reason text, revoked jsonb,
              processed_at timestamptz, replayed boolean)
         where e.event_key = v.event_key`,
        [jsonToParameter(records)],
      );
    }
  }

  async countRevocations(at: Date, n: number, tx: Tx): Promise<void> {
    if (n <= 0) return;
    // Old buckets go in the same statement: the table stays a few hundred rows.
    await this.db.executor(tx).raw(
      `with expired as (delete from event_revocation_counts where bucket < ?)
       insert into event_revocation_counts (bucket, revocations) values (?, ?)
       on conflict (bucket) do update set revocations = event_revocation_counts.revocations + excluded.revocations`,
      [new Date(at.getTime() - BUCKET_RETENTION_MS), bucketOf(at), n],
    );
  }

  async revocationsCountedSince(since: Date, tx: Tx): Promise<number> {
    const row = (await this.db.executor(tx)("event_revocation_counts").where("bucket", ">=", bucketOf(since)).sum({ n: "revocations" }).first()) as { n: unknown } | undefined;
    return Number(row?.n ?? 0);
  }

  async list(query: { outcome: StoredEventOutcome; afterSeq?: number; limit: number }, tx?: Tx): Promise<StoredEventRow[]> {
    const rows = (await this.db
      .executor(tx)("resident_events")
      .where({ outcome: query.outcome })
      .andWhere("seq", ">", query.afterSeq ?? 0)
      .orderBy("seq")
      .limit(query.limit)) as Row[];
    return rows.map(eventFromRow);
  }

  async get(seq: number, tx?: Tx): Promise<StoredEventRow | undefined> {
    const row = (await this.db.executor(tx)("resident_events").where({ seq }).first()) as Row | undefined;
    return row ? eventFromRow(row) : undefined;
  }

  async getForUpdate(seq: number, tx: Tx): Promise<StoredEventRow | undefined> {
    const row = (await this.db.executor(tx)("resident_events").where({ seq }).forUpdate().first()) as Row | undefined;
    return row ? eventFromRow(row) : undefined;
  }

  async nextDeferredForUpdate(limit: number, tx: Tx): Promise<StoredEventRow[]> {
    const rows = (await this.db.executor(tx)("resident_events").where({ outcome: "deferred" }).orderBy("seq").limit(limit).forUpdate().skipLocked()) as Row[];
    return rows.map(eventFromRow);
  }

  async rekey(seq: number, r: Pick<NewEventRow, "key" | "eventId" | "residentCode" | "type" | "effectiveDate" | "payload">, tx: Tx): Promise<boolean> {
    const k = this.db.executor(tx);
    const taken = await k("resident_events").where({ event_key: r.key }).whereNot({ seq }).first("seq");
    if (taken !== undefined) return false;
    await k("resident_events")
      .where({ seq })
      .update({
        event_key: r.key,
        event_id: r.eventId,
        resident_code: r.residentCode,
        type: r.type,
        effective_date: r.effectiveDate,
        payload: r.payload === null ? null : jsonToParameter(r.payload),
      });
    return true;
  }

  async countByOutcome(tx?: Tx): Promise<Record<StoredEventOutcome, number>> {
    const rows = (await this.db.executor(tx)("resident_events").select("outcome").count({ n: "*" }).groupBy("outcome")) as Row[];
    const out: Record<StoredEventOutcome, number> = { applied: 0, rejected: 0, deferred: 0 };
    for (const r of rows) out[String(r.outcome) as StoredEventOutcome] = Number(r.n);
    return out;
  }

  // ---------------------------------------------------------------- safety valve

  async readShared(tx: Tx): Promise<SafetyValveState> {
    // KEY SHARE: compatible with another batch's halt (a plain UPDATE), conflicts with resume's FOR UPDATE.
    return valveFromRow(await this.db.executor(tx)("event_safety_valve").where({ id: 1 }).forKeyShare().first());
  }

  async readExclusive(tx: Tx): Promise<SafetyValveState> {
    return valveFromRow(await this.db.executor(tx)("event_safety_valve").where({ id: 1 }).forUpdate().first());
  }

  async read(tx?: Tx): Promise<SafetyValveState> {
    return valveFromRow(await this.db.executor(tx)("event_safety_valve").where({ id: 1 }).first());
  }

  async halt(at: Date, reason: string, tx: Tx): Promise<boolean> {
    const rows = await this.db.executor(tx)("event_safety_valve").where({ id: 1, halted: false }).update({ halted: true, halted_at: at, halt_reason: reason }, ["id"]);
    return rows.length === 1;
  }

  async resume(at: Date, by: string, tx: Tx): Promise<void> {
    const k = this.db.executor(tx);
    await k("event_safety_valve").where({ id: 1 }).update({ halted: false, resumed_at: at, resumed_by: by });
    // The breaker's window restarts: what it counted before the halt was reviewed by the operator.
    await k("event_revocation_counts").delete();
  }

  // ---------------------------------------------------------------- set-wise revocation

  async liveCertificatesOf(residentCodes: readonly string[], tx: Tx, options: { withRecorded?: boolean } = {}): Promise<Map<string, LiveCertificate[]>> {
    const out = new Map<string, LiveCertificate[]>();
    const codes = [...new Set(residentCodes)];
    const k = this.db.executor(tx);
    // Only the recorded fields the policy reads (resident fields, the rendered subject), and only when asked.
    const recorded = options.withRecorded === false ? "'{}'::jsonb" : "jsonb_build_object('resident', recorded->'resident', 'answer', jsonb_build_object('subject', recorded->'answer'->'subject'))";
    for (let i = 0; i < codes.length; i += CHUNK) {
      const result = await k.raw(
        `select serial, ca_id, kind, device, status, not_after, partition, resident_code, ${recorded} as recorded
         from certificates
         where resident_code in (select jsonb_array_elements_text(?::jsonb)) and status in ('pending', 'valid', 'hold')
         order by serial`,
        [jsonToParameter(codes.slice(i, i + CHUNK))],
      );
      for (const row of rowsOf(result)) {
        const code = String(row.resident_code);
        const list = out.get(code) ?? [];
        list.push({
          serial: String(row.serial),
          caId: row.ca_id as CaId,
          kind: row.kind as CaKind,
          device: row.device === "phone" ? "phone" : "card",
          status: row.status as CertificateStatus,
          notAfter: dateFromColumn(row.not_after),
          partition: Number(row.partition),
          recorded: objectFromColumn(row.recorded),
        });
        out.set(code, list);
      }
    }
    return out;
  }

  async revokeMany(changes: readonly RevocationChange[], tx: Tx): Promise<ReadonlySet<string>> {
    const k = this.db.executor(tx);
    const changed = new Set<string>();
    // Serial order, like every other multi-certificate update, to keep lock order consistent.
    const sorted = [...changes].sort((a, b) => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0));
    for (let i = 0; i < sorted.length; i += CHUNK) {
      const records = sorted.slice(i, i + CHUNK).map((c) => ({
        serial: c.serial,
        reason: c.reason,
        revoked_at: c.revokedAt.toISOString(),
        invalidity_date: c.invalidityDate?.toISOString() ?? null,
      }));
      const result = await k.raw(
        `update certificates c set status = 'revoked', revocation_reason = v.reason, revoked_at = v.revoked_at,
                invalidity_date = v.invalidity_date, updated_at = now()
         from jsonb_to_recordset(?::jsonb) as v(serial text, reason text, revoked_at timestamptz, invalidity_date timestamptz)
         where c.serial = v.serial and c.status in ('pending', 'valid', 'hold')
         returning c.serial`,
        [jsonToParameter(records)],
      );
      for (const row of rowsOf(result)) changed.add(String(row.serial));
    }
    return changed;
  }

  async addOutbox(messages: ReadonlyArray<{ topic: OutboxTopic; payload: Readonly<Record<string, unknown>> }>, tx: Tx): Promise<void> {
    const k = this.db.executor(tx);
    for (let i = 0; i < messages.length; i += CHUNK) {
      await k.raw("insert into outbox (topic, payload) select v.topic, v.payload from jsonb_to_recordset(?::jsonb) as v(topic text, payload jsonb)", [
        jsonToParameter(messages.slice(i, i + CHUNK)),
      ]);
    }
  }
}

/**
 * Errors worth retrying the whole transaction for: deadlock_detected (40P01) and
 * serialization_failure (40001), e.g. an event batch and an issuance superseding the same certificate.
 */
export function isTransientDatabaseError(err: unknown): boolean {
  const state = sqlState(err);
  return state === "40P01" || state === "40001";
}

function eventFromRow(row: Row): StoredEventRow {
  const revoked = row.revoked;
  return {
    seq: Number(row.seq),
    key: String(row.event_key),
    eventId: row.event_id === null ? null : String(row.event_id),
    residentCode: row.resident_code === null ? null : String(row.resident_code),
    type: row.type === null ? null : String(row.type),
    effectiveDate: row.effective_date === null ? null : String(row.effective_date),
    payload: row.payload === null || row.payload === undefined ? null : objectFromColumn(row.payload),
    raw: row.raw === null ? null : String(row.raw),
    rawSize: Number(row.raw_size),
    transport: String(row.transport) as StoredEventRow["transport"],
    source: row.source === null ? null : String(row.source),
    outcome: String(row.outcome) as StoredEventOutcome,
    reason: row.reason === null ? null : String(row.reason),
    revoked: Array.isArray(revoked) ? revoked.map(String) : [],
    processedAt: nullableDateFromColumn(row.processed_at),
    attempts: Number(row.attempts),
    receivedAt: dateFromColumn(row.received_at),
  };
}

function valveFromRow(row: unknown): SafetyValveState {
  if (row === undefined || row === null) throw new Error("event_safety_valve row missing: run the migrations");
  const r = row as Row;
  return {
    halted: r.halted === true,
    haltedAt: nullableDateFromColumn(r.halted_at),
    haltReason: r.halt_reason === null ? null : String(r.halt_reason),
    resumedAt: nullableDateFromColumn(r.resumed_at),
    resumedBy: r.resumed_by === null ? null : String(r.resumed_by),
  };
}
