import { AckPolicy, DeliverPolicy, Events, StorageType, connect, nanos, type Consumer, type ConsumerMessages, type JetStreamManager, type JsMsg, type NatsConnection } from "nats";
import type { EventInput, EventResult, ResidentEventProcessor } from "./resident-event-processor.js";

/**
 * The NATS JetStream transport (docs/api.md §5): a durable pull consumer on stream RESIDENT_EVENTS,
 * subjects `resident.events.>`, one event per message, `Nats-Msg-Id` = eventId.
 *
 * A message is acknowledged only after its outcome is committed: messages are fetched in batches,
 * processed (one transaction per chunk), and acked after `process` returned. A crash before the ack
 * leaves them unacknowledged; JetStream redelivers them after `ack_wait`, and the processor answers
 * `duplicate` for what was already committed, so nothing is applied twice and nothing is lost.
 * `max_deliver` is unlimited: an event is never dropped by the stream (malformed ones are rejected,
 * stored and acked; a database outage naks them for a later retry).
 *
 * Several CA processes may run the same durable consumer: JetStream shares the messages among them.
 */

export interface NatsConsumerOptions {
  readonly servers: string | string[];
  readonly stream?: string;
  readonly subjects?: readonly string[];
  readonly durable?: string;
  /** Messages per fetch, and at most per processing batch (default 1,000). */
  readonly batchSize?: number;
  /**
   * Batches processed at the same time (default 3): one transaction commits while the next ones are
   * being parsed, read and decided. Each batch is acked on its own commit.
   */
  readonly concurrency?: number;
  /** Redelivery after this long without an ack (default 30 s; must exceed a batch's processing time). */
  readonly ackWaitMs?: number;
  /** How long one pull waits for messages (default and minimum 1 s). */
  readonly fetchExpiresMs?: number;
  /** Delay before a batch that failed to process is redelivered (default 5 s). */
  readonly retryDelayMs?: number;
  /** Connection name shown by the server. */
  readonly name?: string;
}

export interface ConsumerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Test seams: called after the outcomes are committed, before the acks (a throw simulates a crash there). */
export interface ConsumerHooks {
  afterCommit?(results: readonly EventResult[], messages: readonly JsMsg[]): void | Promise<void>;
}

export const RESIDENT_EVENTS_STREAM = "RESIDENT_EVENTS";
export const RESIDENT_EVENTS_SUBJECTS: readonly string[] = Object.freeze(["resident.events.>"]);
export const DEFAULT_DURABLE = "ca-resident-events";
/**
 * Measured with bench/events.bench.ts on 2 cores: 500 × 2 gave 5,094 events/s, 1,000 × 3 gave 7,175
 * (fewer statements per event, and PostgreSQL works on one batch while Node parses the next).
 */
const DEFAULT_BATCH_SIZE = 1000;
const RECONNECT_WAIT_MS = 250;
const DEFAULT_CONCURRENCY = 3;

/** Creates the stream and the durable consumer when missing (existing ones are left as they are). */
export async function ensureResidentEventStream(jsm: JetStreamManager, options: Pick<NatsConsumerOptions, "stream" | "subjects" | "durable" | "ackWaitMs" | "batchSize"> = {}): Promise<void> {
  const stream = options.stream ?? RESIDENT_EVENTS_STREAM;
  const durable = options.durable ?? DEFAULT_DURABLE;
  try {
    await jsm.streams.info(stream);
  } catch {
    // File storage and a 2-minute Nats-Msg-Id window: a publisher's retry is dropped by the stream itself.
    await jsm.streams.add({ name: stream, subjects: [...(options.subjects ?? RESIDENT_EVENTS_SUBJECTS)], storage: StorageType.File, duplicate_window: nanos(120_000) });
  }
  try {
    await jsm.consumers.info(stream, durable);
  } catch {
    await jsm.consumers.add(stream, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(options.ackWaitMs ?? 30_000),
      max_deliver: -1,
      max_ack_pending: Math.max(1000, 4 * (options.batchSize ?? DEFAULT_BATCH_SIZE)),
    });
  }
}

export class NatsEventConsumer {
  private nc: NatsConnection | undefined;
  private loop: Promise<void> | undefined;
  private current: ConsumerMessages | undefined;
  private stopping = false;
  private crashed: unknown;
  /** False between a Disconnect and the Reconnect: no pull is issued meanwhile. */
  private connected = true;
  private reconnected: (() => void) | undefined;

  constructor(
    private readonly processor: Pick<ResidentEventProcessor, "process">,
    private readonly options: NatsConsumerOptions,
    private readonly logger: ConsumerLogger,
    private readonly hooks: ConsumerHooks = {},
  ) {}

  /** Connects, makes sure the stream and consumer exist, and starts pulling. */
  async start(): Promise<void> {
    if (this.loop) throw new Error("consumer already started");
    this.stopping = false;
    // Reconnect attempts 250 ms apart (nats.js default 2 s): events published right after a server
    // restart are pulled within a fraction of a second (issue 14 item 3d).
    this.nc = await connect({ servers: this.options.servers, name: this.options.name ?? "jpki-ca-events", maxReconnectAttempts: -1, reconnectTimeWait: RECONNECT_WAIT_MS });
    this.connected = true;
    this.watchConnection(this.nc).catch((err: unknown) => this.logger.warn({ err: errorName(err) }, "watching the NATS connection status stopped"));
    await ensureResidentEventStream(await this.nc.jetstreamManager(), this.options);
    this.loop = this.run(this.nc).catch((err: unknown) => {
      this.crashed = err;
      this.logger.error({ err: errorName(err) }, "resident event consumer stopped by an error; unacknowledged events will be redelivered");
    });
    this.logger.info({ stream: this.stream, durable: this.durable }, "resident event consumer started");
  }

  /**
   * Issue 14 item 3d: a pull must never outlive the connection it was made on. nats.js re-sends the pull
   * of a fetch still open at a reconnect (nats/lib/jetstream/consumer.js, resetPending), while the fetch's
   * own timer closes it soon after: messages the server then hands to that pull reach no one and are
   * redelivered only after `ack_wait` (30 s). Likewise a pull made while disconnected is buffered and
   * sent at the reconnect, after its fetch gave up. So: at a Disconnect the fetch in progress is ended
   * (its messages already received are still processed and acked), no pull is made until the
   * Reconnect, and then a fresh pull is made on the new connection at once.
   */
  private async watchConnection(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === Events.Disconnect) {
        this.connected = false;
        this.current?.stop();
        this.logger.warn({ event: "disconnect" }, "NATS connection lost; resident event pulls paused until it is back");
      } else if (s.type === Events.Reconnect) {
        this.connected = true;
        this.reconnected?.();
        this.reconnected = undefined;
        this.logger.info({ event: "reconnect" }, "NATS connection back; pulling resident events again");
      }
    }
  }

  /** Resolves at the next Reconnect, or when the consumer stops. */
  private untilReconnected(): Promise<void> {
    if (this.connected || this.stopping) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const previous = this.reconnected;
      this.reconnected = () => {
        previous?.();
        resolve();
      };
    });
  }

  /** Stops after the batch in progress (its acks included) and closes the connection. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.current?.stop();
    this.reconnected?.();
    this.reconnected = undefined;
    await this.loop;
    this.loop = undefined;
    const nc = this.nc;
    this.nc = undefined;
    if (nc && !nc.isClosed()) await nc.close();
  }

  /** The error that ended the loop, if one did (a hook's simulated crash, in tests). */
  get failure(): unknown {
    return this.crashed;
  }

  private get stream(): string {
    return this.options.stream ?? RESIDENT_EVENTS_STREAM;
  }

  private get durable(): string {
    return this.options.durable ?? DEFAULT_DURABLE;
  }

  private async run(nc: NatsConnection): Promise<void> {
    const consumer = await nc.jetstream().consumers.get(this.stream, this.durable);
    const batchSize = this.options.batchSize ?? DEFAULT_BATCH_SIZE;
    const concurrency = Math.max(1, this.options.concurrency ?? DEFAULT_CONCURRENCY);
    const inflight = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;
    const dispatch = async (batch: JsMsg[]): Promise<void> => {
      const job: Promise<void> = this.handle(nc, batch).catch((error: unknown) => {
        failure ??= { error };
        this.current?.stop(); // end the pull in progress: the loop stops without acking more
      });
      inflight.add(job);
      void job.finally(() => inflight.delete(job));
      while (inflight.size >= concurrency) await Promise.race(inflight);
      if (failure) throw failure.error;
    };
    try {
      await this.pull(consumer, batchSize, dispatch, () => failure !== undefined);
    } finally {
      await Promise.all(inflight);
    }
    if (failure) throw failure.error;
  }

  private async pull(consumer: Consumer, batchSize: number, dispatch: (batch: JsMsg[]) => Promise<void>, failed: () => boolean): Promise<void> {
    while (!this.stopping && !failed()) {
      await this.untilReconnected();
      if (this.stopping || failed()) break;
      let messages: ConsumerMessages;
      try {
        messages = await consumer.fetch({ max_messages: batchSize, expires: Math.max(1000, this.options.fetchExpiresMs ?? 1000) });
      } catch (err) {
        if (this.stopping) break;
        this.logger.warn({ err: errorName(err) }, "fetching resident events failed; retrying");
        await sleep(1000);
        continue;
      }
      this.current = messages;
      let batch: JsMsg[] = [];
      for await (const m of messages) {
        batch.push(m);
        // Process as soon as nothing more is waiting: low latency when quiet, big batches under load.
        if (batch.length >= batchSize || m.info.pending === 0) {
          await dispatch(batch);
          batch = [];
        }
        if (this.stopping || failed()) break;
      }
      if (batch.length > 0 && !this.stopping && !failed()) await dispatch(batch);
      this.current = undefined;
    }
  }

  /** Processes one batch and acks it after the commit; naks it for a later retry when processing fails. */
  private async handle(nc: NatsConnection, batch: readonly JsMsg[]): Promise<void> {
    const inputs: EventInput[] = batch.map((m) => {
      const msgId = m.headers?.get("Nats-Msg-Id");
      return { raw: { bytes: m.data }, source: `nats:${m.info.streamSequence}`, ...(msgId ? { msgId } : {}) };
    });
    let results: EventResult[];
    try {
      results = await this.processor.process(inputs, "nats");
    } catch (err) {
      this.logger.error({ err: errorName(err), messages: batch.length }, "processing resident events failed; they will be redelivered");
      for (const m of batch) m.nak(this.options.retryDelayMs ?? 5000);
      return;
    }
    // A throw here (a crash between commit and ack) ends the loop without acking.
    await this.hooks.afterCommit?.(results, batch);
    for (const m of batch) m.ack();
    await nc.flush();
  }
}

/** Name and code only: a driver's message may quote the data it choked on (docs/design.md invariant 6). */
function errorName(err: unknown): string {
  if (!(err instanceof Error)) return typeof err;
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" || typeof code === "number" ? `${err.name} (${code})` : err.name;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
