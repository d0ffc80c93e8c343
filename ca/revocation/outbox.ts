import type { Tx } from "../stores.js";

/**
 * The transactional outbox (docs/design.md invariant 3): a status change writes an outbox row in the same
 * transaction; the CRL and OCSP workers consume the rows afterwards.
 */
export type OutboxTopic = "certificate.issued" | "certificate.revoked" | "certificate.held" | "certificate.released";

export interface OutboxWriter {
  add(topic: OutboxTopic, payload: Readonly<Record<string, unknown>>, tx?: Tx): Promise<void>;
}

export interface OutboxMessage {
  readonly id: number;
  readonly topic: OutboxTopic;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly createdAt: Date;
}

/**
 * Reading the outbox: each consumer (the CRL scheduler, the OCSP pre-signer, …) keeps its own cursor,
 * so several consumers see every message. A consumer reads after its cursor, acts, then advances the
 * cursor; acting must be idempotent (a crash between the two replays the batch).
 */
export interface OutboxReader {
  /** Messages with id > the consumer's cursor, oldest first. */
  readAfterCursor(consumer: string, limit: number, tx?: Tx): Promise<OutboxMessage[]>;
  /** Moves the consumer's cursor forward to `lastId` (never backwards). */
  advanceCursor(consumer: string, lastId: number, tx?: Tx): Promise<void>;
}
