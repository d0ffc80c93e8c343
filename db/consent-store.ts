import type { Consent, ConsentStore, NewConsent } from "../ca/consents/consent.js";
import type { QueryName } from "../ca/relying-parties/verifier-types.js";
import type { Tx } from "../ca/stores.js";
import { dateFromColumn, jsonToParameter, nullableDateFromColumn } from "./column-values.js";
import type { Database } from "./database.js";

type Row = Record<string, unknown>;
const TABLE = "consents";

const toConsent = (r: Row): Consent => ({
  id: String(r.id),
  residentCode: String(r.resident_code),
  partyId: String(r.party_id),
  scope: (typeof r.scope === "string" ? JSON.parse(r.scope) : r.scope) as QueryName[],
  grantedAt: dateFromColumn(r.granted_at),
  grantedWith: String(r.granted_with),
  withdrawnAt: nullableDateFromColumn(r.withdrawn_at),
  withdrawnWith: r.withdrawn_with === null || r.withdrawn_with === undefined ? null : String(r.withdrawn_with),
});

/**
 * ConsentStore on PostgreSQL / PGlite (table consents, migration 0029). At most one open consent per
 * resident and party is held by the partial unique index `consents_open_uq`; `open` with a transaction
 * locks the row, so a query and a withdrawal of the same consent are ordered.
 */
export class KnexConsentStore implements ConsentStore {
  constructor(private readonly db: Database) {}

  async open(residentCode: string, partyId: string, tx?: Tx): Promise<Consent | undefined> {
    const q = this.db.executor(tx)(TABLE).where({ resident_code: residentCode, party_id: partyId }).whereNull("withdrawn_at");
    const row = (await (tx ? q.forShare() : q).first()) as Row | undefined;
    return row ? toConsent(row) : undefined;
  }

  async insert(c: NewConsent, tx: Tx): Promise<Consent> {
    const [row] = (await this.db.executor(tx)(TABLE)
      .insert({ resident_code: c.residentCode, party_id: c.partyId, scope: jsonToParameter(c.scope), granted_at: c.grantedAt, granted_with: c.grantedWith })
      .returning("*")) as Row[];
    return toConsent(row!);
  }

  async close(residentCode: string, partyId: string, at: Date, withdrawnWith: string, tx: Tx): Promise<boolean> {
    const rows = await this.db.executor(tx)(TABLE).where({ resident_code: residentCode, party_id: partyId }).whereNull("withdrawn_at").update({ withdrawn_at: at, withdrawn_with: withdrawnWith }, ["id"]);
    return rows.length > 0;
  }

  async ofResident(residentCode: string, tx?: Tx): Promise<Consent[]> {
    const rows = (await this.db.executor(tx)(TABLE).where({ resident_code: residentCode }).orderBy("id").limit(10_000)) as Row[];
    return rows.map(toConsent);
  }
}
