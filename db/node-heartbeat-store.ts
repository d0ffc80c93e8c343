import { hostname } from "node:os";
import type { Database } from "./database.js";

/** This process as a heartbeat row names it: host and process id (no personal data). */
export const thisNode = (): string => `${hostname()}:${process.pid}`;

/** Default of {@link NodeHeartbeatOptions.minIntervalMs}. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5000;

export interface NodeHeartbeatOptions {
  /** Node name of the row (default {@link thisNode}). */
  readonly node?: string;
  /**
   * A successful write is not repeated for this long (default 5 s): a load balancer polling `/readyz`
   * every second costs one write per node every few seconds, not one per poll. A failure is not
   * remembered: the next poll writes again (and so sees the recovery at once).
   */
  readonly minIntervalMs?: number;
  /** Milliseconds now (tests). */
  readonly now?: () => number;
}

/**
 * The write probe of `/readyz` (issue 14 item 3c): upserts this node's row of `node_heartbeats`
 * (migration 0024) in a committed transaction, so a database that still answers reads but cannot write
 * (disk full, a read-only standby after a failover) makes the node "not ready".
 */
export class NodeHeartbeatStore {
  private readonly node: string;
  private readonly minIntervalMs: number;
  private readonly now: () => number;
  private lastOk = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;
  /** Writes actually sent to the database (for tests and metrics). */
  writes = 0;

  constructor(
    private readonly db: Database,
    options: NodeHeartbeatOptions = {},
  ) {
    this.node = options.node ?? thisNode();
    this.minIntervalMs = options.minIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.now = options.now ?? Date.now;
  }

  /** Resolves when a write committed within the interval (or commits one now); throws the driver's error. */
  beat(): Promise<void> {
    if (this.now() - this.lastOk < this.minIntervalMs) return Promise.resolve();
    this.inflight ??= this.write().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async write(): Promise<void> {
    this.writes++;
    await this.db.transaction(async (tx) => {
      const k = this.db.executor(tx);
      await k.raw(
        `insert into node_heartbeats (node, beat_at) values (?, now())
         on conflict (node) do update set beat_at = now(), beats = node_heartbeats.beats + 1`,
        [this.node],
      );
      await k.raw("delete from node_heartbeats where beat_at < now() - interval '1 day'");
    });
    this.lastOk = this.now();
  }
}
