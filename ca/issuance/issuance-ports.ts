/**
 * @packageDocumentation
 * ca/issuance: issuing a resident's certificates — record, then sign, then record (docs/design.md invariant 1).
 *
 * - issuance-service.ts: the service (`POST /v1/issuances`): idempotency, resident and key checks,
 *   record-before-sign, all-or-none.
 * - issuance-request.ts: the request body, parsed and hashed (for Idempotency-Key retries).
 * - issuance-plan.ts: step (1), pure: validity, serial, partition, to-be-signed certificate per request.
 * - validity.ts: the validity rule (notBefore / notAfter of each kind).
 * - serial.ts: serial numbers, and the CRL partition of a serial (`partitionOf`).
 * - csr.ts: the card's PKCS#10 request: key checks and proof of possession.
 * - end-entity-issuer.ts: TBS → signature → verified certificate for one CA generation and kind.
 * - issuing-authority.ts: which CA generation issues, and what it needs.
 * - issuance-ports.ts (this file): the issuance records and the CA's copy of the resident record.
 */
import { CaError } from "../errors.js";
import { PUBLIC_KEY_IN_USE, type NewPendingCertificate, type Tx } from "../stores.js";
import type { Gender } from "../residents/resident-fields.js";
import type { LinkType } from "../linkage/certificate-links.js";

/**
 * Ports of the issuance service beyond the certificate store: the issuance records (idempotency and
 * the answer given) and the CA's copy of the resident record (機構保存本人確認情報, docs/domain.md §3).
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
  /** Throws IdempotencyKeyInUseError (a CaError "conflict") when (terminalId, idempotencyKey) exists. */
  insert(record: IssuanceRecord, tx?: Tx): Promise<void>;
  findByKey(terminalId: string, idempotencyKey: string, tx?: Tx): Promise<IssuanceRecord | undefined>;
  get(issuanceId: string, tx?: Tx): Promise<IssuanceRecord | undefined>;
  /** pending → completed with the answer; false when it was not pending (completed by someone else). */
  complete(issuanceId: string, response: Readonly<Record<string, unknown>>, at: Date, tx?: Tx): Promise<boolean>;
  /** pending → failed; false when it was not pending. */
  fail(issuanceId: string, at: Date, tx?: Tx): Promise<boolean>;
  /**
   * Step (1) of an issuance in one write (docs/design.md invariant 1, no signature without a record): the record
   * (status pending) and every certificate as `pending` with its TBS, which reserves the serials. All or
   * nothing: IdempotencyKeyInUseError when (terminalId, idempotencyKey) exists, PublicKeyInUseError or
   * PublicKeyRefusedError for a key the store refuses, CaError("conflict") on a serial clash,
   * CaError("not-found") for an unknown CA generation.
   */
  insertWithCertificates(record: IssuanceRecord, certificates: readonly NewPendingCertificate[], tx?: Tx): Promise<void>;
  /**
   * Step (3) of an issuance in one write, only while it is pending (docs/domain.md §3, docs/design.md invariant 3):
   * - stores each signed DER (pending → valid; a serial revoked or held while pending keeps its status);
   * - revokes as `superseded` at `at` the resident's valid or held certificates of the kinds issued, on
   *   the device issued (card or phone, migration 0026), that other issuances issued;
   * - writes the outbox rows: `certificate.issued` {serial, caId, partition} per certificate (serial
   *   order), then `certificate.revoked` {serial, caId, partition, reason: "superseded"} per superseded one;
   * - records the linkage graph (docs/linkage.md) as `linksOfIssuance` (ca/linkage/certificate-links.ts)
   *   says: a `successor` link to each certificate from the resident's most recent earlier certificate
   *   of its kind and device that was ever issued (created no later, another issuance, whatever its
   *   status), and `sign-auth` from the signing to the user-auth certificate of each device; a link
   *   recorded before is not written again;
   * - completes the issuance with `response` at `at`.
   * Returns undefined, having written nothing, when the issuance is not pending (completed or failed by
   * someone else) or unknown. Throws CaError("conflict") when a certificate in `signed` is not a pending
   * one of this issuance awaiting its DER; nothing stays written then (without `tx` it runs in its own
   * transaction; with `tx`, the caller's transaction rolls back on the throw).
   */
  completeWithCertificates(
    issuanceId: string,
    signed: ReadonlyArray<{ readonly serial: string; readonly der: Uint8Array }>,
    response: Readonly<Record<string, unknown>>,
    at: Date,
    tx?: Tx,
  ): Promise<IssuanceCompleted | undefined>;
}

/** What completing an issuance changed (IssuanceStore.completeWithCertificates). */
export interface IssuanceCompleted {
  /** The record, now completed. */
  readonly issuance: IssuanceRecord;
  /** Serials revoked as superseded, oldest first (created, then serial). */
  readonly superseded: readonly string[];
  /** The links this completion recorded: successors first, then sign-auth, each by from and to serial. */
  readonly links: ReadonlyArray<{ readonly fromSerial: string; readonly toSerial: string; readonly link: LinkType }>;
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
  /**
   * getForUpdate and insert in one statement: the record on file, locked for the rest of the transaction
   * (`inserted: false`); when there is none, `candidate` is stored and returned (`inserted: true`), locked
   * too as an inserted row is until commit. A concurrent first insert of the same resident is waited for,
   * then its record is returned locked.
   */
  lockOrInsert(candidate: ResidentRecord, tx?: Tx): Promise<{ readonly record: ResidentRecord; readonly inserted: boolean }>;
}

/**
 * Why a store refused a certificate's public key beyond PUBLIC_KEY_IN_USE (issue #12 item 5, migration 0019):
 * - "blocked": a certificate with this key was revoked for keyCompromise (blocked for ever, both kinds,
 *   every CA generation);
 * - "certified-before": the key is in a revoked certificate of either kind (a card makes a new key pair
 *   for every application, so an old key coming back is a replayed request: docs/issuance.md).
 */
export type RefusedKeyRule = "blocked" | "certified-before";

const refusedKeyMessages: Readonly<Record<RefusedKeyRule, string>> = Object.freeze({
  blocked: "this public key is blocked: a certificate with it was revoked for key compromise",
  "certified-before": "this public key was in an earlier certificate; the card must make a new key pair",
});

/**
 * CaError("conflict") of a store refusing a key (RefusedKeyRule). `publicKeySha256` says which key (hex
 * SHA-256 of the SPKI, no personal data) when the store knows it, so the service can name the request
 * field: typed, never matched by message text.
 */
export class PublicKeyRefusedError extends CaError {
  constructor(
    readonly rule: RefusedKeyRule,
    readonly publicKeySha256: string | undefined,
    options: { field?: string; cause?: unknown } = {},
  ) {
    super("conflict", refusedKeyMessages[rule], options);
  }

  /** The same refusal naming the request field the key came from. */
  withField(field: string): PublicKeyRefusedError {
    return new PublicKeyRefusedError(this.rule, this.publicKeySha256, { field, cause: this });
  }
}

/**
 * CaError("conflict") of an issuance store: an issuance with this (terminalId, idempotencyKey) exists.
 * The service takes it for a race with a concurrent request carrying the same key, and answers as a
 * retry is answered (docs/api.md §4). Typed, so no one matches the message text.
 */
export class IdempotencyKeyInUseError extends CaError {
  constructor(options: { cause?: unknown } = {}) {
    super("conflict", "issuance idempotency key already exists", options);
  }
}

/**
 * CaError("conflict", PUBLIC_KEY_IN_USE) of a certificate store (CertificateStore.insertPending,
 * IssuanceStore.insertWithCertificates): the key is in a live certificate (migration 0015). Without
 * `field`, the store did not know which request field the key came from; the service names it.
 */
export class PublicKeyInUseError extends CaError {
  constructor(options: { field?: string; cause?: unknown } = {}) {
    super("conflict", PUBLIC_KEY_IN_USE, options);
  }
}
