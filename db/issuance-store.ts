import type { IssuanceRecord, IssuanceStatus, IssuanceStore, ResidentRecord, ResidentStore } from "../ca/issuance-ports.js";
import type { Tx } from "../ca/stores.js";
import { dateFromColumn, jsonToParameter, nullableDateFromColumn, objectFromColumn } from "./column-values.js";
import type { Database } from "./database.js";
import { residentFieldsFromRow } from "./resident-columns.js";
import { mapConstraintErrors } from "./database-errors.js";

type Row = Record<string, unknown>;

/** IssuanceStore on PostgreSQL / PGlite (table issuances, migration 0006). */
export class KnexIssuanceStore implements IssuanceStore {
  constructor(private readonly db: Database) {}

  async insert(r: IssuanceRecord, tx?: Tx): Promise<void> {
    await mapConstraintErrors("issuance idempotency key", () =>
      this.db.executor(tx)("issuances").insert({
        issuance_id: r.issuanceId,
        terminal_id: r.terminalId,
        idempotency_key: r.idempotencyKey,
        request_sha256: r.requestSha256,
        operator_id: r.operatorId,
        municipality_code: r.municipalityCode,
        application_date: r.applicationDate,
        resident_code: r.residentCode,
        status: r.status,
        response: r.response === null ? null : jsonToParameter(r.response),
        created_at: r.createdAt,
        completed_at: r.completedAt,
      }),
    );
  }

  async findByKey(terminalId: string, idempotencyKey: string, tx?: Tx): Promise<IssuanceRecord | undefined> {
    const row = (await this.db.executor(tx)("issuances").where({ terminal_id: terminalId, idempotency_key: idempotencyKey }).first()) as Row | undefined;
    return row ? toIssuance(row) : undefined;
  }

  async get(issuanceId: string, tx?: Tx): Promise<IssuanceRecord | undefined> {
    const row = (await this.db.executor(tx)("issuances").where({ issuance_id: issuanceId }).first()) as Row | undefined;
    return row ? toIssuance(row) : undefined;
  }

  async complete(issuanceId: string, response: Readonly<Record<string, unknown>>, at: Date, tx?: Tx): Promise<boolean> {
    const rows = await this.db
      .executor(tx)("issuances")
      .where({ issuance_id: issuanceId, status: "pending" })
      .update({ status: "completed", response: jsonToParameter(response), completed_at: at }, ["issuance_id"]);
    return rows.length === 1;
  }

  async fail(issuanceId: string, at: Date, tx?: Tx): Promise<boolean> {
    const rows = await this.db.executor(tx)("issuances").where({ issuance_id: issuanceId, status: "pending" }).update({ status: "failed", completed_at: at }, ["issuance_id"]);
    return rows.length === 1;
  }
}

function toIssuance(row: Row): IssuanceRecord {
  return {
    issuanceId: String(row.issuance_id),
    terminalId: String(row.terminal_id),
    idempotencyKey: String(row.idempotency_key),
    requestSha256: String(row.request_sha256),
    operatorId: String(row.operator_id),
    municipalityCode: String(row.municipality_code),
    applicationDate: String(row.application_date),
    residentCode: String(row.resident_code),
    status: String(row.status) as IssuanceStatus,
    response: row.response === null || row.response === undefined ? null : objectFromColumn(row.response),
    createdAt: dateFromColumn(row.created_at),
    completedAt: nullableDateFromColumn(row.completed_at),
  };
}

/** ResidentStore on PostgreSQL / PGlite (table residents, migration 0006). */
export class KnexResidentStore implements ResidentStore {
  constructor(private readonly db: Database) {}

  async getForUpdate(residentCode: string, tx?: Tx): Promise<ResidentRecord | undefined> {
    const q = this.db.executor(tx)("residents").where({ resident_code: residentCode });
    const row = (await (tx ? q.forUpdate() : q).first()) as Row | undefined;
    return row ? toResident(row) : undefined;
  }

  async insert(r: ResidentRecord, tx?: Tx): Promise<void> {
    await mapConstraintErrors("resident record", () =>
      this.db.executor(tx)("residents").insert({
        resident_code: r.residentCode,
        name: r.name,
        name_substitute_flags: r.nameSubstituteFlags,
        alias: r.alias,
        alias_substitute_flags: r.aliasSubstituteFlags,
        date_of_birth: r.dateOfBirth,
        gender: r.gender,
        address: r.address,
        address_substitute_flags: r.addressSubstituteFlags,
        created_at: r.updatedAt,
        updated_at: r.updatedAt,
      }),
    );
  }
}

function toResident(row: Row): ResidentRecord {
  return {
    ...residentFieldsFromRow(row),
    ...(row.status === undefined || row.status === null ? {} : { status: String(row.status) as NonNullable<ResidentRecord["status"]> }),
    updatedAt: dateFromColumn(row.updated_at),
  };
}
