import type { OutboxTopic, OutboxWriter } from "../ca/outbox.js";
import type { Tx } from "../ca/stores.js";
import { jsonToParameter } from "./column-values.js";
import type { Database } from "./database.js";

/** OutboxWriter on PostgreSQL / PGlite (table outbox, migration 0004). */
export class KnexOutboxStore implements OutboxWriter {
  constructor(private readonly db: Database) {}

  async add(topic: OutboxTopic, payload: Readonly<Record<string, unknown>>, tx?: Tx): Promise<void> {
    await this.db.executor(tx)("outbox").insert({ topic, payload: jsonToParameter(payload) });
  }
}
