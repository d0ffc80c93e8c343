import type { HolderRequestEntry, HolderRequestLog } from "../ca/holder/holder-request-log.js";
import type { Tx } from "../ca/stores.js";
import { jsonToParameter, rowsOf } from "./column-values.js";
import type { Database } from "./database.js";

/** HolderRequestLog on PostgreSQL / PGlite (table holder_requests, migration 0027). */
export class KnexHolderRequestStore implements HolderRequestLog {
  constructor(private readonly db: Database) {}

  async insert(entry: HolderRequestEntry, tx: Tx): Promise<boolean> {
    // The primary key decides: of two concurrent sendings of one request exactly one inserts.
    const result = await this.db
      .executor(tx)
      .raw("insert into holder_requests (digest, purpose, serial, created_at, outcome) values (?, ?, ?, ?, ?::jsonb) on conflict (digest) do nothing returning digest", [
        entry.digest,
        entry.purpose,
        entry.serial,
        entry.createdAt,
        entry.outcome === null ? null : jsonToParameter(entry.outcome),
      ]);
    return rowsOf(result).length === 1;
  }

  async get(digest: string, tx?: Tx): Promise<HolderRequestEntry | undefined> {
    const row = (await this.db.executor(tx)("holder_requests").where({ digest }).first()) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : entryOf(row);
  }

  async setOutcome(digest: string, outcome: Readonly<Record<string, unknown>>, tx: Tx): Promise<void> {
    await this.db.executor(tx).raw("update holder_requests set outcome = ?::jsonb where digest = ?", [jsonToParameter(outcome), digest]);
  }

  async listUnfinished(purpose: string, before: Date, limit: number, tx?: Tx): Promise<HolderRequestEntry[]> {
    const rows = rowsOf(
      await this.db
        .executor(tx)
        .raw(
          "select * from holder_requests where purpose = ? and created_at < ? and outcome is not null and outcome -> 'answer' is null and outcome -> 'failed' is null order by created_at, digest limit ?",
          [purpose, before, limit],
        ),
    );
    return rows.map(entryOf);
  }
}

function entryOf(row: Record<string, unknown>): HolderRequestEntry {
  const outcome = typeof row.outcome === "string" ? (JSON.parse(row.outcome) as Record<string, unknown>) : ((row.outcome ?? null) as Record<string, unknown> | null);
  return { digest: String(row.digest), purpose: String(row.purpose), serial: String(row.serial), createdAt: new Date(row.created_at as string | Date), outcome };
}
