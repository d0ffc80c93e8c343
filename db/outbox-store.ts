import type { OutboxMessage, OutboxReader, OutboxTopic, OutboxWriter } from "../ca/revocation/outbox.js";
import type { Tx } from "../ca/stores.js";
import { dateFromColumn, jsonToParameter, objectFromColumn } from "./column-values.js";
import type { Database } from "./database.js";

/**
 * How long a hole in the outbox ids is waited for before it is taken as a rolled-back insert. Ids come
 * from a sequence when a row is inserted, not when it commits: a transaction that inserted id 41 may
 * commit after the one that inserted id 42. A cursor moved past 42 at once would never see 41 (a
 * revocation the CRL and OCSP would miss), so the cursor only moves over contiguous ids, or over a hole
 * older than this.
 */
export const OUTBOX_GAP_WAIT_SECONDS = 30;

/** OutboxWriter and OutboxReader on PostgreSQL / PGlite (tables outbox, outbox_cursors; migrations 0004, 0007). */
export class KnexOutboxStore implements OutboxWriter, OutboxReader {
  /** Per consumer: ids above the stored cursor already handed out and acknowledged (held back by a hole). */
  private readonly done = new Map<string, Set<number>>();
  /** Per consumer: ids handed out by the last read, not yet acknowledged. */
  private readonly handedOut = new Map<string, number[]>();

  constructor(private readonly db: Database) {}

  async add(topic: OutboxTopic, payload: Readonly<Record<string, unknown>>, tx?: Tx): Promise<void> {
    await this.db.executor(tx)("outbox").insert({ topic, payload: jsonToParameter(payload) });
  }

  async readAfterCursor(consumer: string, limit: number, tx?: Tx): Promise<OutboxMessage[]> {
    const k = this.db.executor(tx);
    const after = await this.cursorOf(consumer, tx);
    const done = this.done.get(consumer) ?? new Set<number>();
    const rows = (await k("outbox").where("id", ">", after).orderBy("id").limit(limit + done.size)) as Array<Record<string, unknown>>;
    const messages = rows
      .map((r) => ({ id: Number(r.id), topic: String(r.topic) as OutboxTopic, payload: objectFromColumn(r.payload), createdAt: dateFromColumn(r.created_at) }))
      .filter((m) => !done.has(m.id))
      .slice(0, limit);
    this.handedOut.set(consumer, messages.map((m) => m.id));
    return messages;
  }

  async advanceCursor(consumer: string, lastId: number, tx?: Tx): Promise<void> {
    const k = this.db.executor(tx);
    const done = this.done.get(consumer) ?? new Set<number>();
    for (const id of this.handedOut.get(consumer) ?? []) if (id <= lastId) done.add(id);
    this.handedOut.delete(consumer);
    const after = await this.cursorOf(consumer, tx);
    let upper = lastId;
    for (const id of done) if (id > upper) upper = id;
    // Move over contiguous acknowledged ids; over a hole only once the row after it is old enough.
    const rows = (await k("outbox")
      .where("id", ">", after)
      .andWhere("id", "<=", upper)
      .orderBy("id")
      .select("id", k.raw(`created_at < now() - interval '${OUTBOX_GAP_WAIT_SECONDS} seconds' as settled`))) as Array<{ id: unknown; settled: unknown }>;
    let cursor = after;
    for (const r of rows) {
      const id = Number(r.id);
      if (!done.has(id)) break;
      if (id !== cursor + 1 && r.settled !== true) break;
      cursor = id;
    }
    for (const id of done) if (id <= cursor) done.delete(id);
    this.done.set(consumer, done);
    if (cursor > after) {
      await k.raw(
        `insert into outbox_cursors (consumer, last_id, updated_at) values (?, ?, now())
         on conflict (consumer) do update set last_id = greatest(outbox_cursors.last_id, excluded.last_id), updated_at = now()`,
        [consumer, cursor],
      );
    }
  }

  private async cursorOf(consumer: string, tx?: Tx): Promise<number> {
    const row = (await this.db.executor(tx)("outbox_cursors").where({ consumer }).first("last_id")) as { last_id: unknown } | undefined;
    return row ? Number(row.last_id) : 0;
  }
}
