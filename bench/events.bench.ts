/**
 * Resident events applied end to end from NATS JetStream into PostgreSQL (issue 4: ≥ 5,000 events/s;
 * a 1M-event replay in under 4 minutes), beside the raw PostgreSQL row-insert rate measured in the same
 * run (multi-row inserts of event-sized rows, 500 per transaction: the ceiling for storing the events
 * alone, before any revocation, record update, audit or outbox work).
 *
 * Every event is an ADDRESS_CHANGED of its own resident: each one claims its row, locks and updates
 * the resident record (keeping the superseded version), revokes the signing certificate and writes its
 * outbox row, plus one audit entry per batch. The safety valve's breaker is raised out of the way.
 *
 * Run alone: `npx tsx bench/events.bench.ts [EVENTS]` (default 50,000; 1000000 for the full replay).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "nats";
import { FixedClock, systemClock } from "../ca/ports.js";
import { residentEventToJson } from "../ca/residents/resident-event.js";
import { openDatabase, type Database } from "../db/database.js";
import { migrateLatest } from "../db/migrate.js";
import { KnexAuditStore } from "../db/audit-store.js";
import { jsonToParameter } from "../db/column-values.js";
import { isTransientDatabaseError, KnexResidentEventStore } from "../db/resident-event-store.js";
import { KnexResidentMirrorStore } from "../db/resident-mirror-store.js";
import { NatsEventConsumer } from "../events/nats-consumer.js";
import { ResidentEventProcessor, type EventInput } from "../events/resident-event-processor.js";
import { ensurePostgres } from "./postgres-server.js";
import { cpuSince, cpuSnapshot } from "./process-cpu.js";
import { formatBenchTable, withBaseline, type BenchResult } from "./result.js";
import { createDatabase } from "./service-process.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export interface BenchEventsOptions {
  /** Events (and residents) in the run (default 50,000). */
  readonly events?: number;
  readonly log?: (line: string) => void;
}

const code = (n: number): string => String(10_000_000_000 + n).slice(-11);
const ADDRESS = "東京都中野区中野四丁目８番１号";

export function natsUrl(): string {
  if (process.env.NATS_URL) return process.env.NATS_URL;
  const envFile = join(repoRoot, "var/test/services.env");
  return execFileSync("bash", ["-c", `. "${envFile}" && printf %s "$NATS_URL"`], { encoding: "utf8" });
}

async function seed(db: Database, count: number): Promise<void> {
  const k = db.knex;
  const at = new Date("2026-10-01T00:00:00Z");
  await k("ca_generations").insert(
    (["sign", "auth"] as const).map((kind, i) => ({
      id: `${kind}-g1`, kind, generation: 1, key_algorithm: "P-256", signature_algorithm: "ecdsa-with-SHA256", key_uri: `pkcs11:object=${kind}`,
      certificate: Buffer.from([0x30, 0x00]), serial_prefix: 0x11 + i, partition_count: 64, status: "active", created_at: at,
    })),
  );
  const recorded = jsonToParameter({ resident: { name: "山田　太郎", address: "東京都新宿区歌舞伎町一丁目４番１号" }, answer: { subject: { name: "山田　太郎" } } });
  for (let from = 0; from < count; from += 2000) {
    const ns = Array.from({ length: Math.min(2000, count - from) }, (_, i) => from + i);
    await k("residents").insert(ns.map((n) => ({
      resident_code: code(n), name: "山田　太郎", name_substitute_flags: "00000", alias: null, alias_substitute_flags: null, date_of_birth: "1980-02-17", gender: 1,
      address: "東京都新宿区歌舞伎町一丁目４番１号", address_substitute_flags: "0".repeat(17), created_at: at, updated_at: at,
    })));
    await k("certificates").insert(ns.flatMap((n) => (["sign", "auth"] as const).map((kind) => ({
      serial: `${kind === "sign" ? "a1" : "b1"}${n.toString(16).padStart(10, "0")}`, ca_id: `${kind}-g1`, kind, status: "valid", not_before: at,
      not_after: new Date("2031-02-17T14:59:59Z"), partition: n % 64, tbs: Buffer.from([0x30, 0x00]), public_key_sha256: `${kind}-${String(n).padStart(12, "0")}`.padEnd(64, "0"),
      subject_id: `S${kind}${n}`, resident_code: code(n), issuance_id: `iss-${n}`, recorded, created_at: at, updated_at: at,
    }))));
  }
}

/** Raw PostgreSQL: event-sized rows (a key and a ~400-byte jsonb), multi-row inserts, 500 per transaction. */
/** The events benchmarks' batching: BENCH_EVENTS_BATCH / BENCH_EVENTS_CONCURRENCY when set (the consumer's defaults otherwise). */
const batching = (): { batchSize?: number; concurrency?: number } => ({
  ...(process.env.BENCH_EVENTS_BATCH ? { batchSize: Number(process.env.BENCH_EVENTS_BATCH) } : {}),
  ...(process.env.BENCH_EVENTS_CONCURRENCY ? { concurrency: Number(process.env.BENCH_EVENTS_CONCURRENCY) } : {}),
});

/**
 * The service's event path on `db` (ResidentEventProcessor behind a NatsEventConsumer on a durable
 * "ca" consumer of `stream`), counting what it processed and applied; the safety valve's breaker raised
 * out of the way. Used by this benchmark and bench/scale-events.ts.
 */
export function benchEventConsumer(db: Database, o: { stream: string; subjects: string[]; log: (line: string) => void }): { consumer: NatsEventConsumer; readonly done: number; readonly applied: number } {
  const events = new KnexResidentEventStore(db);
  const counts = { done: 0, applied: 0 };
  const processor = new ResidentEventProcessor(
    { clock: systemClock, transactions: db, events, valve: events, revocations: events, mirror: new KnexResidentMirrorStore(db), audit: new KnexAuditStore(db), isTransient: isTransientDatabaseError },
    { limits: { maxRevocationsPerEvent: 4, maxRevocationsInWindow: 1_000_000_000, windowMs: 600_000 } },
  );
  const counting = {
    process: async (inputs: readonly EventInput[], transport: "nats") => {
      const results = await processor.process(inputs, transport);
      counts.done += results.length;
      counts.applied += results.filter((r) => r.outcome === "applied").length;
      return results;
    },
  };
  const consumer = new NatsEventConsumer(counting, { servers: natsUrl(), stream: o.stream, subjects: o.subjects, durable: "ca", ...batching(), ackWaitMs: 60_000 }, { info: () => undefined, warn: o.log.bind(null, "warn") as never, error: (e) => o.log(`consumer error ${JSON.stringify(e)}`) });
  return {
    consumer,
    get done() {
      return counts.done;
    },
    get applied() {
      return counts.applied;
    },
  };
}

/**
 * Publishes one ADDRESS_CHANGED event per item to `subject` on JetStream (msgID = eventId, so a resend is
 * deduplicated), 1,000 in flight at a time: the events benchmarks' backlog.
 */
export async function publishAddressChanges(
  nc: NatsConnection,
  subject: string,
  items: ReadonlyArray<{ eventId: string; residentCode: string }>,
  at: { effectiveDate: string; recordedAt: Date },
): Promise<void> {
  const js = nc.jetstream();
  for (let i = 0; i < items.length; i += 1000) {
    await Promise.all(
      items.slice(i, i + 1000).map(({ eventId, residentCode }) => {
        const e = { eventId, residentCode, type: "ADDRESS_CHANGED" as const, ...at, changes: { address: ADDRESS, addressSubstituteFlags: "0".repeat(15) } };
        return js.publish(subject, new TextEncoder().encode(JSON.stringify(residentEventToJson(e))), { msgID: eventId });
      }),
    );
  }
}

export async function rawInsertRate(db: Database, rows: number): Promise<number> {
  await db.knex.raw("create table bench_raw_rows (id bigserial primary key, key text unique not null, payload jsonb not null)");
  const payload = jsonToParameter(residentEventToJson({ eventId: "x", residentCode: code(1), type: "ADDRESS_CHANGED", effectiveDate: "2026-11-20", recordedAt: new Date(), changes: { address: ADDRESS, addressSubstituteFlags: "0".repeat(15) } }));
  const started = performance.now();
  for (let i = 0; i < rows; i += 500) {
    await db.transaction(async (tx) => {
      await db.executor(tx)("bench_raw_rows").insert(Array.from({ length: Math.min(500, rows - i) }, (_, j) => ({ key: `raw-${i + j}`, payload })));
    });
  }
  return rows / ((performance.now() - started) / 1000);
}

export async function benchEvents(options: BenchEventsOptions = {}): Promise<BenchResult[]> {
  const log = options.log ?? ((line: string) => console.error(line));
  const count = options.events ?? 50_000;
  const server = ensurePostgres(log);
  const database = await createDatabase(server.url, "bench_events");
  const db = await openDatabase({ url: database.url, poolMax: 4 });
  const nc = await connect({ servers: natsUrl() });
  const id = randomBytes(4).toString("hex");
  const stream = `RESIDENT_EVENTS_BENCH_${id}`;
  const subject = `bench.${id}.resident.events.131041`;
  let consumer: NatsEventConsumer | undefined;
  try {
    await migrateLatest(db);
    log(`events: seeding ${count.toLocaleString("en-US")} residents with 2 certificates each`);
    await seed(db, count);
    const raw = await rawInsertRate(db, Math.min(count, 100_000));
    log(`events: raw PostgreSQL insert ${Math.round(raw).toLocaleString("en-US")} rows/s`);

    const drain = benchEventConsumer(db, { stream, subjects: [`bench.${id}.resident.events.>`], log });
    consumer = drain.consumer;
    // Create the stream and consumer, then stop: the backlog is published first, then drained.
    await consumer.start();
    await consumer.stop();
    log(`events: publishing ${count.toLocaleString("en-US")} events to JetStream`);
    await publishAddressChanges(nc, subject, Array.from({ length: count }, (_, n) => ({ eventId: `bench-${id}-${n}`, residentCode: code(n) })), {
      effectiveDate: "2026-11-20",
      recordedAt: new FixedClock(new Date("2026-11-20T01:02:03Z")).now(),
    });
    log("events: draining the stream into PostgreSQL");
    const cpuBefore = cpuSnapshot(process.pid, database.name);
    const started = performance.now();
    await consumer.start();
    while (drain.done < count) await new Promise((r) => setTimeout(r, 50));
    const seconds = (performance.now() - started) / 1000;
    const cpu = cpuSince(cpuBefore, cpuSnapshot(process.pid, database.name));
    log(`events: CPU while draining: this process ${cpu.client.toFixed(1)} s, PostgreSQL backends ${cpu.postgres.toFixed(1)} s, machine busy ${(cpu.machineBusy / seconds).toFixed(2)} cores of ${seconds.toFixed(1)} s`);
    await consumer.stop();
    consumer = undefined;
    if (drain.applied !== count) throw new Error(`expected ${count} applied events, got ${drain.applied}`);
    const rate = count / seconds;
    log(`events: ${count.toLocaleString("en-US")} events in ${seconds.toFixed(1)} s = ${Math.round(rate).toLocaleString("en-US")} events/s`);
    return [
      { ...withBaseline("resident events NATS → PostgreSQL", rate, "events/s", { name: "raw PostgreSQL row inserts", value: raw }), target: { op: ">=", value: 5000 } },
      count >= 1_000_000
        ? { name: `${count.toLocaleString("en-US")}-event replay (measured)`, value: seconds, unit: "s", target: { op: "<=", value: (240 * count) / 1_000_000 } }
        : { name: "1M-event replay (projected from the rate)", value: 1_000_000 / rate, unit: "s", target: { op: "<=", value: 240 } },
    ];
  } finally {
    await consumer?.stop().catch(() => undefined);
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
    await db.close();
    await database.drop();
    server.release();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const events = process.argv[2] ? Number(process.argv[2]) : undefined;
  console.log(formatBenchTable(await benchEvents(events ? { events } : {})));
}
