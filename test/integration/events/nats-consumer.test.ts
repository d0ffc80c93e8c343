import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect, headers, type NatsConnection } from "nats";
import { FixedClock } from "../../../ca/ports.js";
import type { EventOutcome } from "../../../ca/residents/resident-event-ports.js";
import { NatsEventConsumer, type ConsumerLogger, type NatsConsumerOptions } from "../../../events/nats-consumer.js";
import type { EventInput, EventResult, ResidentEventProcessor } from "../../../events/resident-event-processor.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase } from "../../support/database.js";
import { changesFor, event, residentCode, T0, wire } from "../../support/resident-event-fixtures.js";
import { authSerial, eventProcessor, seedCaGenerations, seedResidents, signSerial } from "../../support/resident-event-seed.js";

const quiet: ConsumerLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const count = async (t: TestDatabase, table: string, where: Record<string, unknown> = {}): Promise<number> =>
  Number(((await t.db.knex(table).where(where).count({ n: "*" }).first()) as { n: unknown }).n);

async function waitFor(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Records every outcome the wrapped processor answered. */
function recording(processor: ResidentEventProcessor): { processor: Pick<ResidentEventProcessor, "process">; outcomes: EventOutcome[] } {
  const outcomes: EventOutcome[] = [];
  return {
    outcomes,
    processor: {
      process: async (inputs: readonly EventInput[], transport) => {
        const results: EventResult[] = await processor.process(inputs, transport);
        outcomes.push(...results.map((r) => r.outcome));
        return results;
      },
    },
  };
}

describe("NATS JetStream transport with PostgreSQL", function () {
  this.timeout(60_000);
  let t: TestDatabase;
  let nc: NatsConnection;
  let processor: ResidentEventProcessor;
  const consumers: NatsEventConsumer[] = [];

  before(async function () {
    requirePostgresUrl(this);
    const natsUrl = process.env.NATS_URL;
    if (!natsUrl) {
      if (process.env.CI === "true") throw new Error("NATS_URL is not set: NATS tests cannot be skipped in CI");
      console.warn("      SKIPPED NATS tests: NATS_URL is not set (scripts/services.sh start)");
      this.skip();
    }
    t = await openTestDatabase("postgres");
    await seedCaGenerations(t.db);
    await seedResidents(t.db, 1, 200);
    processor = eventProcessor(t.db, new FixedClock(T0));
    nc = await connect({ servers: natsUrl! });
  });
  after(async function () {
    for (const c of consumers) await c.stop().catch(() => undefined);
    if (nc) {
      const jsm = await nc.jetstreamManager();
      for await (const s of jsm.streams.list()) if (s.config.name.startsWith("RE_TEST_")) await jsm.streams.delete(s.config.name);
      await nc.close();
    }
    await t?.close();
  });

  /** A stream of its own per test: nothing left over from another run or test interferes. */
  function streamOptions(): NatsConsumerOptions & { subject: string } {
    const id = randomBytes(4).toString("hex");
    return { servers: process.env.NATS_URL!, stream: `RE_TEST_${id}`, subjects: [`test.${id}.resident.events.>`], subject: `test.${id}.resident.events.131041`, durable: "ca", ackWaitMs: 1500, batchSize: 50 };
  }

  function consumer(options: NatsConsumerOptions, wrapped: Pick<ResidentEventProcessor, "process">, hooks = {}): NatsEventConsumer {
    const c = new NatsEventConsumer(wrapped, options, quiet, hooks);
    consumers.push(c);
    return c;
  }

  async function publish(subject: string, body: Uint8Array | string, msgID?: string): Promise<boolean> {
    const js = nc.jetstream();
    const ack = await js.publish(subject, typeof body === "string" ? new TextEncoder().encode(body) : body, msgID ? { msgID } : {});
    return ack.duplicate;
  }

  it("stopped after the commit but before the ack, restarted: every event applied exactly once", async function () {
    const o = streamOptions();
    const events = Array.from({ length: 40 }, (_, i) => event("ADDRESS_CHANGED", changesFor.ADDRESS_CHANGED, { residentCode: residentCode(1 + i) }));
    const first = consumer(o, processor, {
      afterCommit: () => {
        throw new Error("simulated crash between commit and ack");
      },
    });
    await first.start(); // creates the stream and the durable consumer
    for (const e of events) await publish(o.subject, JSON.stringify(wire(e)), e.eventId);
    await waitFor("the first batch to commit", async () => first.failure !== undefined);
    await first.stop(); // the connection closes with the batch unacknowledged
    const appliedBeforeRestart = await count(t, "resident_events", { transport: "nats" });
    assert.ok(appliedBeforeRestart > 0, "the crashed batch was committed");

    const rec = recording(processor);
    const second = consumer(o, rec.processor);
    await second.start();
    await waitFor("all events and the redelivered batch", async () => rec.outcomes.length >= events.length);
    await second.stop();
    assert.equal(rec.outcomes.filter((x) => x === "duplicate").length, appliedBeforeRestart, "the redelivered batch was answered duplicate");
    assert.equal(rec.outcomes.filter((x) => x === "applied").length, events.length - appliedBeforeRestart);
    const codes = events.map((e) => e.residentCode);
    assert.equal(Number(((await t.db.knex("resident_events").whereIn("resident_code", codes).count({ n: "*" }).first()) as { n: unknown }).n), events.length);
    const outbox = (await t.db.knex("outbox").where({ topic: "certificate.revoked" })) as Array<{ payload: { serial: string } }>;
    for (let i = 0; i < events.length; i++) {
      assert.equal(outbox.filter((m) => m.payload.serial === signSerial(1 + i)).length, 1, "revoked once, one outbox row");
    }
    assert.equal((await t.db.knex("certificates").where({ serial: authSerial(1) }).first()).status, "valid");
  });

  it("the same event published twice has one effect (stream dedup by Nats-Msg-Id, then the event id)", async function () {
    const o = streamOptions();
    const rec = recording(processor);
    const c = consumer(o, rec.processor);
    await c.start();
    const e = event("DECEASED", {}, { residentCode: residentCode(100) });
    const body = JSON.stringify(wire(e));
    assert.equal(await publish(o.subject, body, e.eventId), false);
    assert.equal(await publish(o.subject, body, e.eventId), true, "JetStream drops a resend within its window");
    // after the window (simulated: no Nats-Msg-Id), the CA's own idempotency answers
    await publish(o.subject, body);
    await waitFor("both deliveries", async () => rec.outcomes.length >= 2);
    await c.stop();
    // the two deliveries may be processed concurrently: whichever locks the resident first applies it
    assert.deepEqual([...rec.outcomes].sort(), ["applied", "duplicate"]);
    assert.equal(await count(t, "outbox", {}) > 0, true);
    const revoked = (await t.db.knex("outbox").where({ topic: "certificate.revoked" })) as Array<{ payload: { serial: string } }>;
    assert.equal(revoked.filter((m) => m.payload.serial === authSerial(100)).length, 1);
  });

  it("malformed JSON, a 1 MB event, an unknown type, a bad date and a Nats-Msg-Id mismatch are rejected, stored and acked", async function () {
    const o = streamOptions();
    const rec = recording(processor);
    const c = consumer(o, rec.processor);
    await c.start();
    const good = wire(event("DECEASED", {}, { residentCode: residentCode(101) }));
    const big = JSON.stringify({ ...good, eventId: "big-1", padding: "x".repeat(1_000_000) });
    await publish(o.subject, "{ not json");
    await publish(o.subject, big);
    await publish(o.subject, JSON.stringify({ ...good, eventId: "unknown-type-1", type: "MARRIED" }));
    await publish(o.subject, JSON.stringify({ ...good, eventId: "bad-date-1", effectiveDate: "20261120" }));
    const h = headers();
    h.set("Nats-Msg-Id", "some-other-id");
    await nc.jetstream().publish(o.subject, new TextEncoder().encode(JSON.stringify({ ...good, eventId: "msgid-1" })), { headers: h });
    await waitFor("five outcomes", async () => rec.outcomes.length >= 5);
    await c.stop();
    assert.deepEqual(rec.outcomes, ["rejected", "rejected", "rejected", "rejected", "rejected"]);
    const rows = (await t.db.knex("resident_events").where({ transport: "nats", outcome: "rejected" }).orderBy("seq")) as Array<Record<string, unknown>>;
    const reasons = rows.map((r) => String(r.reason).split(":")[0]);
    // two batches may commit in either order (consumer concurrency): compare as sets
    assert.deepEqual(reasons.slice(-5).sort(), ["invalid-field", "invalid-field", "malformed-json", "too-large", "unknown-type"]);
    const stored = rows.find((r) => String(r.reason).startsWith("too-large"))!;
    assert.equal(stored.raw_size, Buffer.byteLength(big));
    assert.equal(String(stored.raw).length, big.length, "kept as received");
    // all acknowledged: nothing is redelivered
    const info = await (await nc.jetstreamManager()).consumers.info(o.stream!, o.durable!);
    assert.equal(info.num_ack_pending, 0);
    assert.equal(info.num_pending, 0);
  });
});
