/**
 * Revocation events applied per second with the full tables underneath (issue 13 item 2: ≥ 5,000/s at
 * 10 M certificates); one size of bench/scale.bench.ts. bench/events.bench.ts's machinery on the seeded
 * database: NATS JetStream (the shared test NATS, var/test/services.env) → NatsEventConsumer →
 * ResidentEventProcessor → PostgreSQL.
 *
 * `events` ADDRESS_CHANGED events of distinct SEEDED residents drawn uniformly over the population (no
 * Zipf: their rows are cold), each revoking the resident's unexpired signing certificate(s)
 * (affiliationChanged, ca/revocation/revocation-policy.ts), updating the resident record (keeping the
 * superseded version), writing outbox and audit rows. The backlog is published first, then drained; the
 * rate is the drain. Beside it, bench/events.bench.ts's raw PostgreSQL insert rate, measured in the same
 * database. Checked exactly once: resident_events rows added = events sent, certificates revoked = the
 * unexpired revocable signing certificates of those residents counted before (so no event was lost,
 * repeated or revoked more).
 */
import { randomBytes } from "node:crypto";
import { connect } from "nats";
import { openDatabase } from "../db/database.js";
import { NatsEventConsumer } from "../events/nats-consumer.js";
import { benchEventConsumer, natsUrl, publishAddressChanges, rawInsertRate } from "./events.bench.js";
import { cpuSince, cpuSnapshot } from "./process-cpu.js";

export interface EventsAtSizeOptions {
  readonly databaseUrl: string;
  /** Seeded residents 0 … residents − 1. */
  readonly residents: number;
  /** Residents already used by an earlier size (skipped; the new ones are added). */
  readonly used: Set<number>;
  /** Events (distinct residents) to send (default 20,000). */
  readonly events?: number;
  readonly log: (line: string) => void;
}

export interface EventsAtSize {
  readonly sent: number;
  readonly seconds: number;
  readonly rate: number;
  /** bench/events.bench.ts's raw PostgreSQL insert rate (rows/s) on the same database. */
  readonly rawInsertRate: number;
  readonly eventRowsAdded: number;
  readonly revokedAdded: number;
  readonly revokedExpected: number;
  readonly problems: readonly string[];
}

/** The consumer's batch size and concurrency from BENCH_EVENTS_BATCH / BENCH_EVENTS_CONCURRENCY, as bench/events.bench.ts. */
/** `n` distinct resident numbers, uniform over [0, residents), none in `used` (added to it). */
function drawResidents(residents: number, n: number, used: Set<number>): number[] {
  const out: number[] = [];
  if (residents - used.size < n) throw new Error(`only ${residents - used.size} unused residents for ${n} events`);
  while (out.length < n) {
    const r = Math.floor(Math.random() * residents);
    if (used.has(r)) continue;
    used.add(r);
    out.push(r);
  }
  return out;
}

export async function measureEventsAtSize(o: EventsAtSizeOptions): Promise<EventsAtSize> {
  const count = o.events ?? 20_000;
  const db = await openDatabase({ url: o.databaseUrl, poolMax: 4 });
  const nc = await connect({ servers: natsUrl() });
  const id = randomBytes(4).toString("hex");
  const stream = `RESIDENT_EVENTS_SCALE_${id}`;
  const subject = `bench.${id}.resident.events.131041`;
  let consumer: NatsEventConsumer | undefined;
  try {
    const k = db.knex;
    await k.raw("drop table if exists bench_raw_rows");
    const raw = await rawInsertRate(db, count);
    await k.raw("drop table bench_raw_rows");
    const codes = drawResidents(o.residents, count, o.used).map((n) => String(n).padStart(11, "0"));
    const num = async (sql: string, bindings: readonly string[] = []): Promise<number> =>
      Number((await k.raw<{ rows: Array<{ n: string }> }>(sql, [...bindings])).rows[0]?.n);
    const revocable = "kind = 'sign' and status in ('pending', 'valid', 'hold') and not_after > now() and resident_code in (select jsonb_array_elements_text(?::jsonb))";
    const revokedOfThem = "kind = 'sign' and status = 'revoked' and revocation_reason = 'affiliationChanged' and resident_code in (select jsonb_array_elements_text(?::jsonb))";
    const codesJson = JSON.stringify(codes);
    const revokedExpected = await num(`select count(*) as n from certificates where ${revocable}`, [codesJson]);
    const revokedBefore = await num(`select count(*) as n from certificates where ${revokedOfThem}`, [codesJson]);
    const eventRowsBefore = await num("select count(*) as n from resident_events");

    const drain = benchEventConsumer(db, { stream, subjects: [`bench.${id}.resident.events.>`], log: o.log });
    consumer = drain.consumer;
    // Create the stream and consumer, then stop: the backlog is published first, then drained.
    await consumer.start();
    await consumer.stop();
    await publishAddressChanges(nc, subject, codes.map((residentCode, n) => ({ eventId: `scale-${id}-${n}`, residentCode })), { effectiveDate: "2026-12-01", recordedAt: new Date() });
    const dbName = decodeURIComponent(new URL(o.databaseUrl).pathname.slice(1));
    const blocks = async (): Promise<{ read: number; hit: number }> => {
      const r = (await k.raw<{ rows: Array<{ read: string; hit: string }> }>("select blks_read as read, blks_hit as hit from pg_stat_database where datname = current_database()")).rows[0];
      return { read: Number(r?.read), hit: Number(r?.hit) };
    };
    const blocksBefore = await blocks();
    const cpuBefore = cpuSnapshot(process.pid, dbName);
    const started = performance.now();
    await consumer.start();
    const deadline = Date.now() + 600_000;
    while (drain.done < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const seconds = (performance.now() - started) / 1000;
    const cpu = cpuSince(cpuBefore, cpuSnapshot(process.pid, dbName));
    await consumer.stop();
    await new Promise((r) => setTimeout(r, 1000)); // pg_stat_database is flushed about once a second
    const blocksAfter = await blocks();
    o.log(`scale: events: CPU while draining: this process ${cpu.client.toFixed(1)} s, PostgreSQL backends ${cpu.postgres.toFixed(1)} s, machine busy ${(cpu.machineBusy / seconds).toFixed(2)} cores of ${seconds.toFixed(1)} s; PostgreSQL blocks read ${(blocksAfter.read - blocksBefore.read).toLocaleString("en-US")}, hit ${(blocksAfter.hit - blocksBefore.hit).toLocaleString("en-US")} (~${((blocksAfter.read - blocksBefore.read + blocksAfter.hit - blocksBefore.hit) / count).toFixed(0)} per event)`);
    consumer = undefined;
    const eventRowsAdded = (await num("select count(*) as n from resident_events")) - eventRowsBefore;
    const revokedAdded = (await num(`select count(*) as n from certificates where ${revokedOfThem}`, [codesJson])) - revokedBefore;
    const problems: string[] = [];
    if (drain.done !== count || drain.applied !== count) problems.push(`events: ${drain.done} processed, ${drain.applied} applied of ${count} sent`);
    if (eventRowsAdded !== count) problems.push(`events: ${eventRowsAdded} resident_events rows added for ${count} sent`);
    if (revokedAdded !== revokedExpected) problems.push(`events: ${revokedAdded} signing certificates revoked, ${revokedExpected} expected`);
    o.log(`scale: events: ${count.toLocaleString("en-US")} in ${seconds.toFixed(1)} s = ${Math.round(count / seconds).toLocaleString("en-US")}/s (raw insert ${Math.round(raw).toLocaleString("en-US")} rows/s); ${eventRowsAdded.toLocaleString("en-US")} event rows, ${revokedAdded.toLocaleString("en-US")} revoked (expected ${revokedExpected.toLocaleString("en-US")})`);
    return { sent: count, seconds, rate: count / seconds, rawInsertRate: raw, eventRowsAdded, revokedAdded, revokedExpected, problems };
  } finally {
    await consumer?.stop().catch(() => undefined);
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
    await db.close();
  }
}
