import type { RelyingPartyRecord, RelyingPartyStore } from "../ca/relying-parties/relying-party.js";
import type { Tx } from "../ca/stores.js";
import { dateFromColumn } from "./column-values.js";
import type { Database } from "./database.js";
import { mapConstraintErrors } from "./database-errors.js";

type Row = Record<string, unknown>;
const toRecord = (r: Row): RelyingPartyRecord => ({
  id: String(r.id),
  name: String(r.name),
  active: Boolean(r.active),
  apiKeySha256: r.api_key_sha256 === null ? null : String(r.api_key_sha256),
  createdAt: dateFromColumn(r.created_at),
});

/** RelyingPartyStore on PostgreSQL / PGlite (table relying_parties, migration 0010). */
export class KnexRelyingPartyStore implements RelyingPartyStore {
  constructor(private readonly db: Database) {}

  async insert(r: RelyingPartyRecord, tx?: Tx): Promise<void> {
    await mapConstraintErrors("relying party", () =>
      this.db.executor(tx)("relying_parties").insert({ id: r.id, name: r.name, active: r.active, api_key_sha256: r.apiKeySha256, created_at: r.createdAt }),
    );
  }

  async get(id: string, tx?: Tx): Promise<RelyingPartyRecord | undefined> {
    const row = (await this.db.executor(tx)("relying_parties").where({ id }).first()) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  async findByApiKeyHash(sha256: string, tx?: Tx): Promise<RelyingPartyRecord | undefined> {
    const row = (await this.db.executor(tx)("relying_parties").where({ api_key_sha256: sha256 }).first()) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  async setActive(id: string, active: boolean, tx?: Tx): Promise<boolean> {
    const rows = await this.db.executor(tx)("relying_parties").where({ id }).update({ active }, ["id"]);
    return rows.length === 1;
  }
}
