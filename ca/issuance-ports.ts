import type { Tx } from "./stores.js";
import type { Gender } from "./resident-fields.js";

/**
 * Ports of the issuance service beyond the certificate store: the issuance records (idempotency and
 * the answer given) and the CA's copy of the resident record (機構保存本人確認情報, DOMAIN §3).
 */

export type IssuanceStatus = "pending" | "completed" | "failed";

export interface IssuanceRecord {
  readonly issuanceId: string;
  /** Scope of the Idempotency-Key: the terminal that sent it. */
  readonly terminalId: string;
  readonly idempotencyKey: string;
  /** SHA-256 (hex) of the canonical request body: the same key with another body is a 409. */
  readonly requestSha256: string;
  readonly operatorId: string;
  readonly municipalityCode: string;
  readonly applicationDate: string;
  readonly residentCode: string;
  readonly status: IssuanceStatus;
  /** The 201 answer, stored at completion so a retry gets exactly the same one. */
  readonly response: Readonly<Record<string, unknown>> | null;
  readonly createdAt: Date;
  readonly completedAt: Date | null;
}

export interface IssuanceStore {
  /** Throws CaError("conflict") when (terminalId, idempotencyKey) exists. */
  insert(record: IssuanceRecord, tx?: Tx): Promise<void>;
  findByKey(terminalId: string, idempotencyKey: string, tx?: Tx): Promise<IssuanceRecord | undefined>;
  get(issuanceId: string, tx?: Tx): Promise<IssuanceRecord | undefined>;
  /** pending → completed with the answer; false when it was not pending (completed by someone else). */
  complete(issuanceId: string, response: Readonly<Record<string, unknown>>, at: Date, tx?: Tx): Promise<boolean>;
  /** pending → failed; false when it was not pending. */
  fail(issuanceId: string, at: Date, tx?: Tx): Promise<boolean>;
}

/** The four items (基本4情報) plus alias, as the CA holds them for one resident. */
export interface ResidentRecord {
  readonly residentCode: string;
  readonly name: string;
  readonly nameSubstituteFlags: string;
  readonly alias: string | null;
  readonly aliasSubstituteFlags: string | null;
  readonly dateOfBirth: string;
  readonly gender: Gender;
  readonly address: string;
  readonly addressSubstituteFlags: string;
  /** On the register, or why not (kept up to date by resident change events); absent = registered. */
  readonly status?: "registered" | "deceased" | "removed" | "emigrated";
  readonly updatedAt: Date;
}

export interface ResidentStore {
  /** The record, locked for the rest of the transaction (`FOR UPDATE`) when `tx` is given. */
  getForUpdate(residentCode: string, tx?: Tx): Promise<ResidentRecord | undefined>;
  /** Creates the record; throws CaError("conflict") when it exists. */
  insert(record: ResidentRecord, tx?: Tx): Promise<void>;
}
