import { CaError } from "../ca/errors.js";
import { parseOperatingSchedule, type OperatingSchedule } from "../ca/operators/operating-hours.js";
import type { NewTerminal, TerminalRecord, TerminalStatus, TerminalStore } from "../ca/operators/operator-ports.js";
import type { Tx } from "../ca/stores.js";
import { dateFromColumn, jsonToParameter, nullableDateFromColumn } from "./column-values.js";
import type { Database } from "./database.js";
import { mapConstraintErrors } from "./database-errors.js";

const TABLE = "terminals";

/**
 * TerminalStore on PostgreSQL / PGlite (table terminals, migration 0005). Enrolling a revoked
 * terminal id again replaces its row in one `INSERT … ON CONFLICT DO UPDATE … WHERE status = 'revoked'`;
 * the history stays in the audit log.
 */
export class KnexTerminalStore implements TerminalStore {
  constructor(private readonly db: Database) {}

  async enrol(t: NewTerminal, tx?: Tx): Promise<void> {
    const k = this.db.executor(tx);
    const row = {
      terminal_id: t.terminalId,
      municipality_code: t.municipalityCode,
      client_cert_serial: t.clientCertSerial,
      client_cert_fingerprint: t.clientCertFingerprint,
      status: "active",
      operating_hours: t.operatingHours === null ? null : jsonToParameter(t.operatingHours),
      enrolled_at: t.enrolledAt,
      revoked_at: null,
    };
    const written = await mapConstraintErrors("terminal certificate serial", () =>
      k(TABLE)
        .insert(row)
        .onConflict("terminal_id")
        .merge()
        .where(`${TABLE}.status`, "revoked")
        .returning(["terminal_id"]),
    );
    if (written.length === 0) throw new CaError("conflict", "terminal is already enrolled and active: revoke it first");
  }

  async get(terminalId: string, tx?: Tx): Promise<TerminalRecord | undefined> {
    const row = await this.db.executor(tx)(TABLE).where({ terminal_id: terminalId }).first();
    return row === undefined ? undefined : terminalFromRow(row);
  }

  async getBySerial(clientCertSerial: string, tx?: Tx): Promise<TerminalRecord | undefined> {
    const row = await this.db.executor(tx)(TABLE).where({ client_cert_serial: clientCertSerial }).first();
    return row === undefined ? undefined : terminalFromRow(row);
  }

  async list(tx?: Tx): Promise<TerminalRecord[]> {
    const rows = await this.db.executor(tx)(TABLE).orderBy("terminal_id");
    return rows.map(terminalFromRow);
  }

  async revoke(terminalId: string, at: Date, tx?: Tx): Promise<boolean> {
    const rows = await this.db
      .executor(tx)(TABLE)
      .where({ terminal_id: terminalId, status: "active" })
      .update({ status: "revoked", revoked_at: at }, ["terminal_id"]);
    return rows.length > 0;
  }

  async setOperatingHours(terminalId: string, schedule: OperatingSchedule | null, tx?: Tx): Promise<void> {
    const rows = await this.db
      .executor(tx)(TABLE)
      .where({ terminal_id: terminalId })
      .update({ operating_hours: schedule === null ? null : jsonToParameter(schedule) }, ["terminal_id"]);
    if (rows.length === 0) throw new CaError("not-found", "terminal not found");
  }
}

/** Row → domain record. */
function terminalFromRow(row: Record<string, unknown>): TerminalRecord {
  return {
    terminalId: row.terminal_id as string,
    municipalityCode: (row.municipality_code as string | null) ?? null,
    clientCertSerial: row.client_cert_serial as string,
    clientCertFingerprint: row.client_cert_fingerprint as string,
    status: row.status as TerminalStatus,
    operatingHours: row.operating_hours === null || row.operating_hours === undefined ? null : parseOperatingSchedule(row.operating_hours),
    enrolledAt: dateFromColumn(row.enrolled_at),
    revokedAt: nullableDateFromColumn(row.revoked_at),
  };
}
