import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { FixedClock } from "../../../ca/ports.js";
import { NatsEventConsumer, type ConsumerLogger } from "../../../events/nats-consumer.js";
import type { EventInput, EventResult, ResidentEventProcessor } from "../../../events/resident-event-processor.js";
import { natsServerBinary } from "../../support/cluster-nats.js";
import { freePorts } from "../../support/cluster-ports.js";
import { openTestDatabase, type TestDatabase } from "../../support/database.js";
import { changesFor, event, residentCode, T0, wire } from "../../support/resident-event-fixtures.js";
import { eventProcessor, seedCaGenerations, seedResidents } from "../../support/resident-event-seed.js";
import { repoRoot } from "../../support/service-harness.js";

const quiet: ConsumerLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** A nats-server with JetStream of this test's own (never the shared one), restartable on its port and store. */
class OwnNatsServer {
  private child: ChildProcess | undefined;
  constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    const child = spawn(natsServerBinary(), ["-a", "127.0.0.1", "-p", String(this.port), "-js", "-sd", join(this.dir, "js")], { stdio: ["ignore", "ignore", "pipe"] });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let log = "";
      const timer = setTimeout(() => reject(new Error(`nats-server did not start: ${log}`)), 15_000);
      child.stderr!.on("data", (d: Buffer) => {
        log += d.toString();
        if (log.includes("Server is ready")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited (${code}): ${log}`));
      });
    });
  }
  /** SIGKILL: a crash, as an operator's `kill -9` (unflushed acks are redelivered afterwards). */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * Issue 14 item 3d: events published just after a NATS restart waited the whole ack_wait (30 s) before
 * being applied. A real nats-server of the test's own is killed and started again under a running
 * consumer (the real processor, on a fresh PostgreSQL database); events published right after the
 * restart must be applied within a few seconds, each exactly once (a redelivery is answered duplicate).
 */
describe("faults: NATS killed and restarted under the consumer (issue 14 item 3d)", function () {
  this.timeout(90_000);
  const dir = join(repoRoot, "var/test/faults", `nats-${process.pid}`);
  let server: OwnNatsServer | undefined;
  let consumer: NatsEventConsumer | undefined;
  let publisher: NatsConnection | undefined;
  let t: TestDatabase | undefined;

  before(async () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const [port] = await freePorts(1);
    server = new OwnNatsServer(port!, dir);
    await server.start();
    t = await openTestDatabase("postgres");
    await seedCaGenerations(t.db);
    await seedResidents(t.db, 1, 20);
  });
  after(async () => {
    await consumer?.stop().catch(() => undefined);
    await publisher?.close().catch(() => undefined);
    await server?.kill();
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("events published right after the restart are applied within seconds, exactly once", async () => {
    const real: ResidentEventProcessor = eventProcessor(t!.db, new FixedClock(T0));
    const applied = new Map<string, number>(); // eventId → when it was applied
    const outcomes = new Map<string, string[]>();
    const recording: Pick<ResidentEventProcessor, "process"> = {
      process: async (inputs: readonly EventInput[], transport) => {
        const results: EventResult[] = await real.process(inputs, transport);
        for (const r of results) {
          const id = r.eventId ?? "?";
          outcomes.set(id, [...(outcomes.get(id) ?? []), r.outcome]);
          if (r.outcome === "applied") applied.set(id, performance.now());
        }
        return results;
      },
    };
    consumer = new NatsEventConsumer(recording, { servers: server!.url, name: "faults-nats" }, quiet);
    await consumer.start();

    const acked = new Map<string, number>();
    const publishAll = async (events: ReadonlyArray<ReturnType<typeof event>>): Promise<void> => {
      // A publisher of its own, connected as soon as the server takes connections (an event source
      // does not wait for this consumer's reconnection).
      const nc = await connect({ servers: server!.url });
      publisher = nc;
      try {
        const js = nc.jetstream();
        for (const e of events) {
          for (;;) {
            try {
              await js.publish("resident.events.131041", new TextEncoder().encode(JSON.stringify(wire(e))), { msgID: e.eventId, timeout: 2000 });
              acked.set(e.eventId, performance.now());
              break;
            } catch {
              await new Promise((r) => setTimeout(r, 20)); // JetStream not ready again yet
            }
          }
        }
      } finally {
        await nc.close();
        publisher = undefined;
      }
    };
    const waitApplied = async (ids: readonly string[], ms: number): Promise<void> => {
      const started = performance.now();
      while (!ids.every((id) => applied.has(id))) {
        if (performance.now() - started > ms) assert.fail(`not applied within ${ms} ms: ${ids.filter((id) => !applied.has(id)).length} of ${ids.length}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const make = (from: number, n: number) => Array.from({ length: n }, (_, i) => event("ADDRESS_CHANGED", changesFor.ADDRESS_CHANGED, { residentCode: residentCode(from + i) }));

    const before = make(1, 5);
    await publishAll(before);
    await waitApplied(before.map((e) => e.eventId), 10_000);

    await server!.kill(); // kill -9 mid-stream
    await new Promise((r) => setTimeout(r, 1500)); // down long enough for the consumer to have tried pulling meanwhile
    await server!.start();
    const restarted = performance.now();
    const after = make(6, 9);
    await publishAll(after);
    await waitApplied(after.map((e) => e.eventId), 45_000);
    // From each event's publish acknowledgement (stored by JetStream) to its commit.
    const took = Math.max(...after.map((e) => applied.get(e.eventId)! - acked.get(e.eventId)!));
    console.log(`      ${after.length} events published ${Math.round(acked.get(after[0]!.eventId)! - restarted)} ms after the restart: the slowest applied ${Math.round(took)} ms after its publish ack`);
    assert.ok(took < 3000, `applied ${Math.round(took)} ms after publish (ack_wait is 30 s)`);

    await new Promise((r) => setTimeout(r, 1500)); // a redelivery would show up now
    for (const e of [...before, ...after]) {
      const o = outcomes.get(e.eventId) ?? [];
      assert.equal(o.filter((x) => x === "applied").length, 1, `${e.eventId}: applied exactly once (${o.join()})`);
      assert.deepEqual(o.filter((x) => x !== "applied" && x !== "duplicate"), [], "only duplicates besides");
    }
    const rows = (await t!.db.knex("resident_events").whereIn("event_id", [...before, ...after].map((e) => e.eventId)).count({ n: "*" }).first()) as { n: unknown };
    assert.equal(Number(rows.n), before.length + after.length, "one stored row per event");
  });
});
