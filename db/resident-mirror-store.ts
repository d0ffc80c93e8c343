import type { MirrorChange, MirrorHistoryEntry, ResidentMirrorStore } from "../ca/residents/resident-event-ports.js";
import type { FieldVersion, MirrorFieldGroup, MirrorRecord, ResidentStatus } from "../ca/residents/resident-event-mirror.js";
import type { Tx } from "../ca/stores.js";
import { dateFromColumn, jsonToParameter, rowsOf } from "./column-values.js";
import type { Database } from "./database.js";
import { residentFieldsFromRow } from "./resident-columns.js";

type Row = Record<string, unknown>;

/** Rows of a raw query result (pg and knex-pglite both give `{rows}`). */

/** Rows per multi-row statement: far below PostgreSQL's 65,535 bind parameters. */
const CHUNK = 1000;

/**
 * ResidentMirrorStore on PostgreSQL / PGlite: table residents (migration 0006, status and
 * field_versions from 0011) and resident_history (0011). Issuance creates the record
 * (db/issuance-store.ts); events update it here, a batch at a time.
 */
export class KnexResidentMirrorStore implements ResidentMirrorStore {
  constructor(private readonly db: Database) {}

  async lockMany(residentCodes: readonly string[], tx: Tx): Promise<Map<string, MirrorRecord>> {
    const out = new Map<string, MirrorRecord>();
    const codes = [...new Set(residentCodes)].sort();
    const k = this.db.executor(tx);
    for (let i = 0; i < codes.length; i += CHUNK) {
      // Code order: two batches locking overlapping residents cannot deadlock.
      const result = await k.raw("select * from residents where resident_code in (select jsonb_array_elements_text(?::jsonb)) order by resident_code for update of residents", [
        jsonToParameter(codes.slice(i, i + CHUNK)),
      ]);
      for (const row of rowsOf(result)) out.set(String(row.resident_code), mirrorFromRow(row));
    }
    return out;
  }

  async saveMany(changes: readonly MirrorChange[], at: Date, tx: Tx): Promise<void> {
    if (changes.length === 0) return;
    const k = this.db.executor(tx);
    const superseded = changes.filter((c) => c.superseded);
    for (let i = 0; i < superseded.length; i += CHUNK) {
      const rows = superseded.slice(i, i + CHUNK).map(({ previous: p, by }) => ({
        resident_code: p.residentCode,
        name: p.name,
        name_substitute_flags: p.nameSubstituteFlags,
        alias: p.alias,
        alias_substitute_flags: p.aliasSubstituteFlags,
        date_of_birth: p.dateOfBirth,
        gender: p.gender,
        address: p.address,
        address_substitute_flags: p.addressSubstituteFlags,
        status: p.status,
        valid_from: p.updatedAt.toISOString(),
        superseded_by: by,
      }));
      await k.raw(
        `insert into resident_history (resident_code, name, name_substitute_flags, alias, alias_substitute_flags, date_of_birth,
                                       gender, address, address_substitute_flags, status, valid_from, superseded_at, superseded_by)
         select v.resident_code, v.name, v.name_substitute_flags, v.alias, v.alias_substitute_flags, v.date_of_birth,
                v.gender, v.address, v.address_substitute_flags, v.status, v.valid_from, ?, v.superseded_by
         from jsonb_to_recordset(?::jsonb) as v(resident_code text, name text, name_substitute_flags text, alias text,
              alias_substitute_flags text, date_of_birth text, gender smallint, address text, address_substitute_flags text,
              status text, valid_from timestamptz, superseded_by text)`,
        [at, jsonToParameter(rows)],
      );
    }
    // The last version per resident wins (a batch may change one resident several times).
    const latest = new Map<string, MirrorRecord>();
    for (const c of changes) latest.set(c.next.residentCode, c.next);
    const records = [...latest.values()].map((n) => ({
      resident_code: n.residentCode,
      name: n.name,
      name_substitute_flags: n.nameSubstituteFlags,
      alias: n.alias,
      alias_substitute_flags: n.aliasSubstituteFlags,
      date_of_birth: n.dateOfBirth,
      gender: n.gender,
      address: n.address,
      address_substitute_flags: n.addressSubstituteFlags,
      municipality_code: n.municipalityCode ?? null,
      status: n.status,
      field_versions: n.fieldVersions,
      updated_at: n.updatedAt.toISOString(),
    }));
    for (let i = 0; i < records.length; i += CHUNK) {
      // One statement per chunk: the new versions travel as one jsonb array.
      await k.raw(
        `update residents r set
           name = v.name, name_substitute_flags = v.name_substitute_flags,
           alias = v.alias, alias_substitute_flags = v.alias_substitute_flags,
           date_of_birth = v.date_of_birth, gender = v.gender,
           address = v.address, address_substitute_flags = v.address_substitute_flags,
           municipality_code = coalesce(v.municipality_code, r.municipality_code),
           status = v.status, field_versions = v.field_versions, updated_at = v.updated_at
         from jsonb_to_recordset(?::jsonb) as v(
           resident_code text, name text, name_substitute_flags text, alias text, alias_substitute_flags text,
           date_of_birth text, gender smallint, address text, address_substitute_flags text, municipality_code text,
           status text, field_versions jsonb, updated_at timestamptz)
         where r.resident_code = v.resident_code`,
        [jsonToParameter(records.slice(i, i + CHUNK))],
      );
    }
  }

  async history(residentCode: string, tx?: Tx): Promise<MirrorHistoryEntry[]> {
    const rows = (await this.db.executor(tx)("resident_history").where({ resident_code: residentCode }).orderBy("id")) as Row[];
    return rows.map((r) => ({
      ...residentFieldsFromRow(r),
      status: String(r.status) as ResidentStatus,
      validFrom: dateFromColumn(r.valid_from),
      supersededAt: dateFromColumn(r.superseded_at),
      supersededBy: String(r.superseded_by),
    }));
  }

  async countSupersededBefore(before: Date, tx?: Tx): Promise<number> {
    const row = (await this.db.executor(tx)("resident_history").where("superseded_at", "<", before).count({ n: "*" }).first()) as { n: unknown } | undefined;
    return Number(row?.n ?? 0);
  }

  async deleteSupersededBefore(before: Date, limit: number, tx: Tx): Promise<number> {
    const k = this.db.executor(tx);
    const deleted = await k("resident_history")
      .whereIn("id", k("resident_history").select("id").where("superseded_at", "<", before).orderBy("id").limit(limit))
      .delete(["id"]);
    // Count the returned rows: the affected-row count is not reported alike by pg and knex-pglite.
    return deleted.length;
  }
}

function mirrorFromRow(row: Row): MirrorRecord {
  const versions = row.field_versions;
  return {
    ...residentFieldsFromRow(row),
    municipalityCode: row.municipality_code === null || row.municipality_code === undefined ? null : String(row.municipality_code),
    status: String(row.status ?? "registered") as ResidentStatus,
    fieldVersions: (versions !== null && typeof versions === "object" ? versions : {}) as Partial<Record<MirrorFieldGroup, FieldVersion>>,
    createdAt: dateFromColumn(row.created_at),
    updatedAt: dateFromColumn(row.updated_at),
  };
}
