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
  /**
   * certificates.status_version (migration 0028): raised by a status change that lowers the rank (a
   * lifted phone hold); absent: 0.
   */
  readonly statusVersion?: number;
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
  /** The certificate's status version it was made from (`CertificateStatusSnapshot.statusVersion`); absent: 0. */
  readonly statusVersion?: number;
  /** For a revoked answer: its revocationTime and reason (what a live answer about it would say). */
  readonly revokedAt: Date | null;
  readonly reason: RevocationReason | null;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly producedAt: Date;
  /**
   * When a relying party last asked for it (recorded in batches, at the demand recorder's granularity:
   * ocsp/demand-recorder.ts); null or absent: not recorded. A write keeps the later of the stored and
   * the new value.
   */
  readonly lastRequestedAt?: Date | null;
}

/**
 * Rank of the certificate status a response was made from. Every transition the CA makes raises it
 * (valid → hold → revoked) except lifting a phone user-auth hold (hold → valid), which raises the
 * certificate's status version instead (migration 0028): responses are ordered by (statusVersion, rank,
 * thisUpdate), see `isNotOlderThan`.
 */
export type StatusRank = 0 | 1 | 2 | 3;

/** What orders two responses about one certificate. */
export type ResponseOrder = Pick<StoredOcspResponse, "rank" | "statusVersion" | "thisUpdate">;

/**
 * Newer wins: true when a response made from `a` may replace one made from `b` — a later status version
 * (a lift, and whatever follows it), else a higher rank, else a thisUpdate not earlier. So a slow
 * signature of an old "good" never replaces a hold or a revocation, a lift replaces the hold it lifted,
 * and a hold or revocation after a lift replaces the lift's "good".
 */
export function isNotOlderThan(a: ResponseOrder, b: ResponseOrder): boolean {
  const va = a.statusVersion ?? 0;
  const vb = b.statusVersion ?? 0;
  if (va !== vb) return va > vb;
  return a.rank > b.rank || (a.rank === b.rank && a.thisUpdate.getTime() >= b.thisUpdate.getTime());
}

/** The key of a stored response in getMany/putMany answers. */
export const storedResponseKey = (serial: string, hash: CertIdHash): string => `${serial}|${hash}`;

export interface OcspResponseStore {
  get(serial: string, hash: CertIdHash): Promise<StoredOcspResponse | undefined>;
  /**
   * Inserts or replaces the response of (serial, hash) unless the stored one was made from a later
   * certificate status (`isNotOlderThan`: status version, then rank, then thisUpdate). This keeps a slow signature
   * of an old status from overwriting a revocation that was signed in the meantime (Boulder #2995).
   * @returns true when written
   */
  put(response: StoredOcspResponse): Promise<boolean>;
  /**
   * `get` of several keys in one round trip (the first requests of a batch).
   * @returns the stored responses by `storedResponseKey(serial, hash)`
   */
  getMany(keys: ReadonlyArray<{ serial: string; hash: CertIdHash }>): Promise<Map<string, StoredOcspResponse>>;
  /**
   * `put` of several responses (distinct keys) in one statement and one commit, each under put's rule.
   * @returns the `storedResponseKey`s written
   */
  putMany(responses: readonly StoredOcspResponse[]): Promise<Set<string>>;
  /**
   * The hash algorithms a serial has stored responses for; with `freshAt`, only responses still before
   * their nextUpdate then (an expired one is served nowhere, so a status change need not re-sign it).
   */
  hashesOf(serials: readonly string[], freshAt?: Date): Promise<Map<string, CertIdHash[]>>;
  /**
   * Responses whose refresh time has come (half their validity after thisUpdate, set by `put`; `now`
   * for one a request revived after `unschedule`), soonest first. `expired`: the certificate's notAfter
   * has passed at `now` (then the response is removed instead: a request after that is signed live).
   */
  listDue(now: Date, limit: number): Promise<Array<{ serial: string; hash: CertIdHash; expired: boolean; lastRequestedAt: Date | null }>>;
  /** Takes responses out of the refresh (nobody asked for them recently): they expire, then `dropUnrequested` deletes them. */
  unschedule(items: ReadonlyArray<{ serial: string; hash: CertIdHash }>): Promise<void>;
  /**
   * Records that responses were asked for at `at` (a batch from the demand recorder): lastRequestedAt
   * moves forward, and an unscheduled response is due for refresh again.
   */
  touch(items: ReadonlyArray<{ serial: string; hash: CertIdHash }>, at: Date): Promise<void>;
  /**
   * Deletes up to `limit` responses out of the refresh, past their nextUpdate at `now` and not asked
   * since `requestedBefore` (an expired response is served by no process, so no cached copy outlives it).
   * @returns responses deleted
   */
  dropUnrequested(now: Date, requestedBefore: Date, limit: number): Promise<number>;
  /** How many responses are stored (exact when few; the planner's estimate when many: a gauge, not a count to bill). */
  countStored(): Promise<number>;
  remove(items: ReadonlyArray<{ serial: string; hash: CertIdHash }>): Promise<void>;
  /** Responses written after `seq` (every write takes a new seq), oldest first: keeps other processes' caches current. */
  changedSince(seq: number, limit: number): Promise<{ rows: StoredOcspResponse[]; lastSeq: number }>;
  /** The highest seq written so far (0 when none). */
  lastSeq(): Promise<number>;
  /** thisUpdate of the oldest response still refreshed (metrics: alert when refresh lags). */
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
