import type { OutboxMessage, OutboxReader, OutboxTopic, OutboxWriter } from "../ca/outbox.js";
import type { Tx } from "../ca/stores.js";
import { dateFromColumn, jsonToParameter, objectFromColumn } from "./column-values.js";
import type { Database } from "./database.js";

/** OutboxWriter and OutboxReader on PostgreSQL / PGlite (tables outbox, outbox_cursors; migrations 0004, 0007). */
export class KnexOutboxStore implements OutboxWriter, OutboxReader {
  constructor(private readonly db: Database) {}

  async add(topic: OutboxTopic, payload: Readonly<Record<string, unknown>>, tx?: Tx): Promise<void> {
    await this.db.executor(tx)("outbox").insert({ topic, payload: jsonToParameter(payload) });
  }

  async readAfterCursor(consumer: string, limit: number, tx?: Tx): Promise<OutboxMessage[]> {
    const k = this.db.executor(tx);
    const cursor = (await k("outbox_cursors").where({ consumer }).first("last_id")) as { last_id: unknown } | undefined;
    const after = cursor ? Number(cursor.last_id) : 0;
    const rows = (await k("outbox").where("id", ">", after).orderBy("id").limit(limit)) as Array<Record<string, unknown>>;
    return rows.map((r) => ({ id: Number(r.id), topic: String(r.topic) as OutboxTopic, payload: objectFromColumn(r.payload), createdAt: dateFromColumn(r.created_at) }));
  }

  async advanceCursor(consumer: string, lastId: number, tx?: Tx): Promise<void> {
    await this.db.executor(tx).raw(
      `insert into outbox_cursors (consumer, last_id, updated_at) values (?, ?, now())
       on conflict (consumer) do update set last_id = greatest(outbox_cursors.last_id, excluded.last_id), updated_at = now()`,
      [consumer, lastId],
    );
  }
}
