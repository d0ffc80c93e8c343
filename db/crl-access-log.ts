import type { CrlAccessLog, CrlAccessRecord, CrlKind } from "../ca/revocation/crl-ports.js";
import type { CaId } from "../ca/types.js";
import { dateFromColumn, parseInt8 } from "./column-values.js";
import type { Database } from "./database.js";

const TABLE = "crl_access_log";

/** CRL reads of registered relying parties (migration 0016), on PostgreSQL / PGlite. */
export class KnexCrlAccessLog implements CrlAccessLog {
  constructor(private readonly db: Database) {}

  async append(records: readonly CrlAccessRecord[]): Promise<void> {
    if (records.length === 0) return;
    // One statement and one parameter per batch (a JSON array), as the OCSP access log.
    await this.db.executor().raw(
      `insert into ${TABLE} (at, party, ca_id, partition, kind, crl_number)
       select at, party, ca_id, partition, kind, crl_number
       from jsonb_to_recordset(?::jsonb) as r(at timestamptz, party text, ca_id text, partition int, kind text, crl_number bigint)`,
      [JSON.stringify(records.map((r) => ({ at: r.at.toISOString(), party: r.party, ca_id: r.caId, partition: r.partition, kind: r.kind, crl_number: r.number })))],
    );
  }

  /** A party's reads (tests and billing tooling), oldest first. */
  async readsOf(party: string, limit = 1000): Promise<CrlAccessRecord[]> {
    const rows = (await this.db.executor()(TABLE).where({ party }).orderBy("id").limit(limit)) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      at: dateFromColumn(r.at),
      party: r.party as string,
      caId: r.ca_id as CaId,
      partition: Number(r.partition),
      kind: r.kind as CrlKind,
      number: parseInt8(String(r.crl_number)),
    }));
  }
}
