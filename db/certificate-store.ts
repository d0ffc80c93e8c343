import type { Knex } from "knex";
import { CaError } from "../ca/errors.js";
import type { CertificateStore, NewPendingCertificate, Tx } from "../ca/stores.js";
import type { CaId, CaKind, CertificateDevice, CertificateRecord, CertificateStatus, RevocationReason } from "../ca/types.js";
import {
  bytesFromColumn,
  bytesToParameter,
  dateFromColumn,
  jsonToParameter,
  nullableDateFromColumn,
  objectFromColumn,
} from "./column-values.js";
import type { Database } from "./database.js";
import { mapConstraintErrors } from "./database-errors.js";

const TABLE = "certificates";

/** Statuses in which a certificate (or its reserved serial) is live: refuse key re-use, revoke on events. */
export const liveStatuses: readonly CertificateStatus[] = ["pending", "valid", "hold"];

/**
 * From which statuses each revocation change is allowed. A pending serial is revocable (invariant 1);
 * a held certificate can be revoked for good; nothing leaves `revoked` or `failed`.
 */
export const revocableFrom: Readonly<Record<"revoked" | "hold", readonly CertificateStatus[]>> = Object.freeze({
  revoked: ["pending", "valid", "hold"],
  hold: ["pending", "valid"],
});

/**
 * CertificateStore on PostgreSQL / PGlite (table certificates, migration 0002).
 *
 * completeIssued: pending → valid with the DER. If the serial was revoked or held while pending, the
 * DER is stored and the status kept. A missing serial is CaError("not-found"); a row that already has
 * its DER or has failed is CaError("conflict"). markFailed: pending → failed, same errors otherwise.
 */
export class KnexCertificateStore implements CertificateStore {
  constructor(private readonly db: Database) {}

  async insertPending(cert: NewPendingCertificate, tx?: Tx): Promise<void> {
    const k = this.db.executor(tx);
    await mapConstraintErrors("certificate serial", () => k(TABLE).insert(pendingCertificateRow(cert)));
  }

  async completeIssued(serial: string, der: Uint8Array, tx?: Tx): Promise<void> {
    const k = this.db.executor(tx);
    const updated = await k(TABLE)
      .where({ serial })
      .whereNull("der")
      .whereIn("status", ["pending", "revoked", "hold"])
      .update(
        {
          der: bytesToParameter(der),
          status: k.raw("case when status = 'pending' then 'valid' else status end"),
          updated_at: k.fn.now(),
        },
        ["serial"],
      );
    if (updated.length === 0) await this.explainNoTransition(k, serial, "is not awaiting its certificate");
  }

  async markFailed(serial: string, tx?: Tx): Promise<void> {
    const k = this.db.executor(tx);
    const updated = await k(TABLE).where({ serial, status: "pending" }).update({ status: "failed", updated_at: k.fn.now() }, ["serial"]);
    if (updated.length === 0) await this.explainNoTransition(k, serial, "is not pending");
  }

  async get(serial: string, tx?: Tx): Promise<CertificateRecord | undefined> {
    const row = await this.db.executor(tx)(TABLE).where({ serial }).first();
    return row === undefined ? undefined : certificateFromRow(row);
  }

  async listPending(before: Date, limit: number, tx?: Tx): Promise<CertificateRecord[]> {
    const rows = await this.db
      .executor(tx)(TABLE)
      .where({ status: "pending" })
      .andWhere("created_at", "<", before)
      .orderBy([{ column: "created_at" }, { column: "serial" }])
      .limit(limit);
    return rows.map(certificateFromRow);
  }

  async findLiveByPublicKey(publicKeySha256: string, tx?: Tx): Promise<CertificateRecord[]> {
    return this.findLive(tx, (q) => q.where({ public_key_sha256: publicKeySha256 }));
  }

  async listByIssuance(issuanceId: string, tx?: Tx): Promise<CertificateRecord[]> {
    const rows = await this.db.executor(tx)(TABLE).where({ issuance_id: issuanceId }).orderBy("serial");
    return rows.map(certificateFromRow);
  }

  async findLiveByResident(residentCode: string, tx?: Tx): Promise<CertificateRecord[]> {
    return this.findLive(tx, (q) => q.where({ resident_code: residentCode }));
  }

  async findLiveByResidentOrKeys(residentCode: string, publicKeySha256s: readonly string[], tx?: Tx): Promise<CertificateRecord[]> {
    // void: knex changes the builder in place and ignores the callback's value (a thenable, not a query to await).
    return this.findLive(tx, (q) => q.where((w) => void w.where({ resident_code: residentCode }).orWhereIn("public_key_sha256", [...publicKeySha256s])));
  }

  /** The live (pending, valid, held) certificates `match` selects, oldest first. */
  private async findLive(tx: Tx | undefined, match: (q: Knex.QueryBuilder) => Knex.QueryBuilder): Promise<CertificateRecord[]> {
    const rows = await match(this.db.executor(tx)(TABLE))
      .whereIn("status", liveStatuses)
      .orderBy([{ column: "created_at" }, { column: "serial" }]);
    return rows.map(certificateFromRow);
  }

  async revoke(
    serial: string,
    change: { status: "revoked" | "hold"; reason: RevocationReason; revokedAt: Date; invalidityDate: Date | null },
    tx?: Tx,
  ): Promise<boolean> {
    const k = this.db.executor(tx);
    const updated = await k(TABLE)
      .where({ serial })
      .whereIn("status", revocableFrom[change.status])
      .update(
        {
          status: change.status,
          revocation_reason: change.reason,
          revoked_at: change.revokedAt,
          invalidity_date: change.invalidityDate,
          updated_at: k.fn.now(),
        },
        ["serial"],
      );
    return updated.length > 0;
  }

  private async explainNoTransition(k: Knex, serial: string, state: string): Promise<never> {
    const exists = await k(TABLE).where({ serial }).first("serial");
    if (exists === undefined) throw new CaError("not-found", "certificate not found");
    throw new CaError("conflict", `certificate ${state}`);
  }
}

/** A reserved serial as the row insertPending writes (also written by the issuance store's reserve, db/issuance-store.ts). */
export function pendingCertificateRow(cert: NewPendingCertificate): Record<string, unknown> {
  return {
    serial: cert.serial,
    ca_id: cert.caId,
    kind: cert.kind,
    // Absent: the column's default, "card" (migration 0026); knex writes DEFAULT for it in a multi-row insert.
    ...(cert.device === undefined ? {} : { device: cert.device }),
    status: "pending",
    not_before: cert.notBefore,
    not_after: cert.notAfter,
    partition: cert.partition,
    der: null,
    tbs: bytesToParameter(cert.tbs),
    public_key_sha256: cert.publicKeySha256,
    subject_id: cert.subjectId,
    resident_code: cert.residentCode,
    issuance_id: cert.issuanceId,
    recorded: jsonToParameter(cert.recorded),
    created_at: cert.createdAt,
    updated_at: cert.createdAt,
  };
}

/** Row → domain record. */
export function certificateFromRow(row: Record<string, unknown>): CertificateRecord {
  return {
    serial: row.serial as string,
    caId: row.ca_id as CaId,
    kind: row.kind as CaKind,
    device: (row.device as CertificateDevice | undefined) ?? "card",
    status: row.status as CertificateStatus,
    notBefore: dateFromColumn(row.not_before),
    notAfter: dateFromColumn(row.not_after),
    partition: row.partition as number,
    der: bytesFromColumn(row.der),
    tbs: bytesFromColumn(row.tbs),
    publicKeySha256: row.public_key_sha256 as string,
    subjectId: row.subject_id as string,
    residentCode: (row.resident_code as string | null) ?? null,
    issuanceId: (row.issuance_id as string | null) ?? null,
    recorded: objectFromColumn(row.recorded),
    revokedAt: nullableDateFromColumn(row.revoked_at),
    revocationReason: (row.revocation_reason as RevocationReason | null) ?? null,
    invalidityDate: nullableDateFromColumn(row.invalidity_date),
    createdAt: dateFromColumn(row.created_at),
  };
}
