import type { CaId, CertificateStatus, RevocationReason } from "../types.js";

/**
 * What the OCSP responder (ocsp/) needs from the database (adapter: db/ocsp-store.ts), no wider than
 * it needs. Kept in ca/ like ca/revocation/crl-ports.ts, because db/ may import ca/ but not ocsp/ (docs/design.md §1).
 */

/** CertID hash algorithms the responder accepts (RFC 5019 §2.1.1 SHA-1; SHA-256). */
export type CertIdHash = "sha1" | "sha256";

/** What a SingleResponse says (RFC 6960 §4.2.1 CertStatus). */
export type CertStatusName = "good" | "revoked" | "unknown";

/** The revocation-relevant part of a certificate row, read in bulk. */
export interface CertificateStatusSnapshot {
  readonly serial: string;
  readonly caId: CaId;
  readonly status: CertificateStatus;
  readonly revokedAt: Date | null;
  readonly reason: RevocationReason | null;
  readonly notAfter: Date;
}

export interface CertificateStatusSource {
  /** Snapshots of the serials that exist (absent serials are simply missing from the map). */
  statuses(serials: readonly string[]): Promise<Map<string, CertificateStatusSnapshot>>;
}

/** A pre-signed response as stored: one per certificate and CertID hash algorithm. */
export interface StoredOcspResponse {
  readonly serial: string;
  readonly hash: CertIdHash;
  readonly caId: CaId;
  /** The complete OCSPResponse DER, served as is. */
  readonly der: Uint8Array;
  readonly certStatus: CertStatusName;
  /** Rank of the certificate status it was made from (valid 1 < hold 2 < revoked 3). */
  readonly rank: StatusRank;
  /** For a revoked answer: its revocationTime and reason (what a live answer about it would say). */
  readonly revokedAt: Date | null;
  readonly reason: RevocationReason | null;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly producedAt: Date;
}

/**
 * Rank of the certificate status a response was made from; a write never lowers it (see put).
 * Every transition the CA makes raises it (valid → hold → revoked); an "unhold" would need a version
 * column instead.
 */
export type StatusRank = 0 | 1 | 2 | 3;

export interface OcspResponseStore {
  get(serial: string, hash: CertIdHash): Promise<StoredOcspResponse | undefined>;
  /**
   * Inserts or replaces the response of (serial, hash) unless the stored one was made from a later
   * certificate status (a higher `rank`). This keeps a slow signature
   * of an old status from overwriting a revocation that was signed in the meantime (Boulder #2995).
   * @returns true when written
   */
  put(response: StoredOcspResponse): Promise<boolean>;
  /** The hash algorithms a serial has stored responses for. */
  hashesOf(serials: readonly string[]): Promise<Map<string, CertIdHash[]>>;
  /**
   * Responses made at or before `thisUpdateBefore`, oldest first: the ones to refresh at half-life.
   * `expired`: the certificate's notAfter has passed at `now` (then the response is removed instead:
   * a request after that is signed live).
   */
  listDue(thisUpdateBefore: Date, now: Date, limit: number): Promise<Array<{ serial: string; hash: CertIdHash; expired: boolean }>>;
  remove(items: ReadonlyArray<{ serial: string; hash: CertIdHash }>): Promise<void>;
  /** Responses written after `seq` (every write takes a new seq), oldest first: keeps other processes' caches current. */
  changedSince(seq: number, limit: number): Promise<{ rows: StoredOcspResponse[]; lastSeq: number }>;
  /** The highest seq written so far (0 when none). */
  lastSeq(): Promise<number>;
  /** thisUpdate of the oldest stored response (metrics; expired certificates' leave at half-life). */
  oldestThisUpdate(): Promise<Date | undefined>;
}

/** One answered request about one certificate (docs/api.md §3: party, certificate, time). */
export interface OcspAccessRecord {
  readonly at: Date;
  readonly party: string;
  /** The serial asked about (request hex), or null when the request could not be parsed. */
  readonly serial: string | null;
  readonly caId: CaId | null;
  /** good / revoked / unknown, or the OCSPResponseStatus when the answer was an error. */
  readonly answer: string;
}

export interface OcspAccessLog {
  /** Appends many records in one statement. */
  append(records: readonly OcspAccessRecord[]): Promise<void>;
}
