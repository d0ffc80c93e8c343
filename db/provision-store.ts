import type { Provision, ProvisionStore, SerialKnowledge } from "../ca/relying-parties/relying-party-queries.js";
import type { Tx } from "../ca/stores.js";
import { jsonToParameter, rowsOf } from "./column-values.js";
import type { Database } from "./database.js";

const TABLE = "relying_party_provisions";

/**
 * ProvisionStore on PostgreSQL / PGlite (table relying_party_provisions, migration 0029): one row per
 * answer, written in the answer's transaction, so an answer that cannot be recorded is not given.
 */
export class KnexProvisionStore implements ProvisionStore {
  constructor(private readonly db: Database) {}

  async record(p: Provision, tx: Tx): Promise<void> {
    await this.db.executor(tx)(TABLE).insert({
      at: p.at,
      party_id: p.partyId,
      on_behalf_of: p.onBehalfOf,
      query: p.query,
      resident_code: p.residentCode,
      asked_serial: p.askedSerial,
      answered_serials: jsonToParameter(p.answeredSerials),
    });
  }
}

/**
 * Which serials a party could know (docs/relying-parties.md "Known serials"): one it asked OCSP about
 * (ocsp_access_log, written by the buffered access recorder: about a second behind), or one an earlier
 * answer gave it or was asked about (relying_party_provisions). Each lookup starts from the serial by an
 * index (ocsp_access_log (serial, at); relying_party_provisions asked_serial and the GIN index on
 * answered_serials), so a party with millions of answers costs no more than one with a few.
 */
export class KnexSerialKnowledge implements SerialKnowledge {
  private ocspLog: boolean | undefined;
  constructor(private readonly db: Database) {}

  async knows(partyIds: readonly string[], serial: string, tx?: Tx): Promise<boolean> {
    const k = this.db.executor(tx);
    // Access mode `public` may run without the table: the fact is fixed per deployment, read once.
    this.ocspLog ??= rowsOf(await k.raw("select to_regclass('ocsp_access_log') as t"))[0]?.t != null;
    if (this.ocspLog) {
      const seen = await k("ocsp_access_log").where({ serial }).whereIn("party", [...partyIds]).first(k.raw("1 as hit"));
      if (seen) return true;
    }
    // Two lookups, each by its own index (asked_serial; the GIN index on answered_serials), then the party.
    const asked = await k(TABLE).where({ asked_serial: serial }).whereIn("party_id", [...partyIds]).first(k.raw("1 as hit"));
    if (asked) return true;
    const given = await k(TABLE).whereRaw("answered_serials @> ?::jsonb", [jsonToParameter([serial])]).whereIn("party_id", [...partyIds]).first(k.raw("1 as hit"));
    return given !== undefined;
  }
}
