import type {
  AuditEntry,
  AuditEntryInput,
  CaGeneration,
  CaId,
  CaKind,
  CertificateDevice,
  CertificateRecord,
  CertificateStatus,
  RevocationReason,
} from "./types.js";

/**
 * Store ports. Each method that writes takes an optional transaction handle `tx`
 * (opaque to the core) so several writes can be one transaction (invariant 3).
 * Adapters: db/*-store.ts (PostgreSQL and PGlite through knex).
 */
export type Tx = { readonly __tx: unique symbol } | unknown;

export interface TransactionRunner {
  /** Runs `work` in one database transaction; rolls back if it throws. */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
}

export interface CaGenerationStore {
  list(tx?: Tx): Promise<CaGeneration[]>;
  get(id: CaId, tx?: Tx): Promise<CaGeneration | undefined>;
  /** The active generation of a kind (the newest active one). */
  active(kind: CaKind, tx?: Tx): Promise<CaGeneration | undefined>;
  /** Inserts; throws CaError("conflict") when the id exists. */
  insert(ca: CaGeneration, tx?: Tx): Promise<void>;
  setStatus(id: CaId, status: CaGeneration["status"], tx?: Tx): Promise<void>;
  setOcspResponder(id: CaId, certificate: Uint8Array, keyUri: string, tx?: Tx): Promise<void>;
}

export interface NewPendingCertificate {
  readonly serial: string;
  readonly caId: CaId;
  readonly kind: CaKind;
  /** Where the key lives; "card" when absent (migration 0026). */
  readonly device?: CertificateDevice;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly partition: number;
  readonly tbs: Uint8Array;
  readonly publicKeySha256: string;
  readonly subjectId: string;
  readonly residentCode: string | null;
  readonly issuanceId: string | null;
  readonly recorded: Readonly<Record<string, unknown>>;
  readonly createdAt: Date;
}

/**
 * The CaError("conflict") message of a store refusing a pending certificate whose key is already in a
 * live (pending, valid, on hold) certificate: one card key, one live certificate, held by the database.
 */
export const PUBLIC_KEY_IN_USE = "this public key is already in another valid certificate";

export interface CertificateStore {
  /**
   * Reserves the serial and stores the TBS as `pending` (invariant 1). Throws CaError("conflict") on a
   * serial clash, and CaError("conflict", PUBLIC_KEY_IN_USE) when the key is in a live certificate.
   */
  insertPending(cert: NewPendingCertificate, tx?: Tx): Promise<void>;
  /** pending → valid with the signed DER. */
  completeIssued(serial: string, der: Uint8Array, tx?: Tx): Promise<void>;
  /** pending → failed (reconciler gave up). */
  markFailed(serial: string, tx?: Tx): Promise<void>;
  get(serial: string, tx?: Tx): Promise<CertificateRecord | undefined>;
  /** Pending rows older than `before` (reconciler). */
  listPending(before: Date, limit: number, tx?: Tx): Promise<CertificateRecord[]>;
  /** Valid/hold/pending certificates that carry this public key (refuse key re-use). */
  findLiveByPublicKey(publicKeySha256: string, tx?: Tx): Promise<CertificateRecord[]>;
  /** Every certificate reserved by one issuance, in serial order. */
  listByIssuance(issuanceId: string, tx?: Tx): Promise<CertificateRecord[]>;
  /** Live (pending/valid/hold) certificates of a resident. */
  findLiveByResident(residentCode: string, tx?: Tx): Promise<CertificateRecord[]>;
  /**
   * In one read: the live certificates of a resident and those (of anyone) that carry one of the keys,
   * oldest first (created, then serial). Issuance checks key re-use and the renewal rules from it.
   */
  findLiveByResidentOrKeys(residentCode: string, publicKeySha256s: readonly string[], tx?: Tx): Promise<CertificateRecord[]>;
  /** Sets revoked/hold status; returns false when the certificate was not in a revocable state. */
  revoke(
    serial: string,
    change: { status: Extract<CertificateStatus, "revoked" | "hold">; reason: RevocationReason; revokedAt: Date; invalidityDate: Date | null },
    tx?: Tx,
  ): Promise<boolean>;
}

export interface AuditStore {
  /** Appends to the hash chain (serialised: entries are totally ordered by seq). */
  append(entry: AuditEntryInput, tx?: Tx): Promise<AuditEntry>;
  /** Entries in seq order, from `fromSeq` inclusive. */
  range(fromSeq: number, limit: number, tx?: Tx): Promise<AuditEntry[]>;
}
