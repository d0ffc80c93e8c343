import type { Tx } from "./stores.js";

/**
 * The transactional outbox (DESIGN invariant 3): a status change writes an outbox row in the same
 * transaction; the CRL and OCSP workers consume the rows afterwards.
 */
export type OutboxTopic = "certificate.issued" | "certificate.revoked" | "certificate.held";

export interface OutboxWriter {
  add(topic: OutboxTopic, payload: Readonly<Record<string, unknown>>, tx?: Tx): Promise<void>;
}
