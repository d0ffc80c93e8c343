import type { QueryWindowStore } from "../ca/relying-parties/query-limit.js";
import type { FourItems, ResidentFourItems } from "../ca/relying-parties/relying-party-queries.js";
import type { Tx } from "../ca/stores.js";
import type { Database } from "./database.js";

const WINDOWS = "relying_party_query_windows";

/**
 * QueryWindowStore on PostgreSQL / PGlite (table relying_party_query_windows, migration 0029): one
 * upsert adds one to the party's counter of the window, shared by every node. A party's first query
 * of a window deletes its older windows (by the primary key), so the table holds about one row per
 * active party.
 */
export class KnexQueryWindowStore implements QueryWindowStore {
  constructor(private readonly db: Database) {}

  async hit(partyId: string, windowStart: Date): Promise<number> {
    const k = this.db.executor();
    const rows = (await k(WINDOWS)
      .insert({ party_id: partyId, window_start: windowStart, queries: 1 })
      .onConflict(["party_id", "window_start"])
      .merge({ queries: k.raw(`${WINDOWS}.queries + 1`) })
      .returning(["queries"])) as Array<{ queries: number | string }>;
    const count = Number(rows[0]?.queries ?? 0);
    if (count === 1) await k(WINDOWS).where({ party_id: partyId }).andWhere("window_start", "<", windowStart).delete();
    return count;
  }
}

/** The four items of the CA's resident record (table residents: issuance creates it, change events keep it current). */
export class KnexResidentFourItems implements ResidentFourItems {
  constructor(private readonly db: Database) {}

  async fourItems(residentCode: string, tx?: Tx): Promise<FourItems | undefined> {
    const row = (await this.db.executor(tx)("residents").where({ resident_code: residentCode }).first("name", "address", "date_of_birth", "gender")) as Record<string, unknown> | undefined;
    return row ? { name: String(row.name), address: String(row.address), dateOfBirth: String(row.date_of_birth), gender: Number(row.gender) } : undefined;
  }
}
