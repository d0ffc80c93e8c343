import type { InquirySource } from "../ca/records/inquiry.js";
import type { CertificateRecord } from "../ca/types.js";
import { certificateFromRow } from "./certificate-store.js";
import type { Database } from "./database.js";

/**
 * The exact-key lookups of limited inquiries and disclosure reports (ca/records/inquiry.ts, ca/records/disclosure.ts)
 * on PostgreSQL / PGlite. Only equality predicates on indexed columns (certificates.serial, .resident_code;
 * residents (name, date_of_birth), migration 0013): there is no way to ask for a range or a pattern.
 */
export class KnexInquirySource implements InquirySource {
  constructor(private readonly db: Database) {}

  async bySerial(serial: string): Promise<CertificateRecord | undefined> {
    const row = await this.db.executor()("certificates").where({ serial }).first();
    return row === undefined ? undefined : certificateFromRow(row);
  }

  async byResidentCode(residentCode: string, limit: number): Promise<CertificateRecord[]> {
    const rows = await this.db.executor()("certificates").where({ resident_code: residentCode }).orderBy([{ column: "created_at" }, { column: "serial" }]).limit(limit);
    return rows.map(certificateFromRow);
  }

  /** By the resident's current record (name as recorded, full-width, exact). */
  async byNameAndDateOfBirth(name: string, dateOfBirth: string, limit: number): Promise<CertificateRecord[]> {
    const k = this.db.executor();
    const rows = await k("certificates")
      .whereIn("resident_code", k("residents").select("resident_code").where({ name, date_of_birth: dateOfBirth }))
      .orderBy([{ column: "created_at" }, { column: "serial" }])
      .limit(limit);
    return rows.map(certificateFromRow);
  }
}
