import { createHash } from "node:crypto";
import type { CaId } from "../ca/types.js";
import type { CertIdHash } from "./cert-id.js";
import { statusOfStored } from "./certificate-status.js";
import type { CertStatusName, SingleStatus } from "./ocsp-response.js";
import { isNotOlderThan, type StatusRank, type StoredOcspResponse } from "../ca/revocation/ocsp-ports.js";

/**
 * The in-memory side of pre-signed responses: bounded, least-recently-used first out, approximately
 * (ResponseCache below). Each entry carries what the HTTP layer sends
 * with it (RFC 5019 §6: ETag, Last-Modified, Expires), computed once, so a hit costs a lookup.
 *
 * Two rules keep a revocation from being undone by a slower reader:
 * - newer wins: an entry never replaces one made from a later certificate status (a later status
 *   version — a lifted phone hold — else a higher `rank`) or, at equal version and rank, a later
 *   thisUpdate (ca/revocation/ocsp-ports.ts `isNotOlderThan`);
 * - a reader that loaded from the database stores its result with `setIfUnchangedSince(entry, v)`,
 *   where `v` is `version` taken before it read: if a change of that key was noted meanwhile
 *   (`noteChange`), its possibly older result is not cached.
 */
export interface CachedResponse {
  readonly key: string;
  readonly caId: CaId;
  readonly hash: CertIdHash;
  readonly serial: string;
  /** The complete OCSPResponse DER. */
  readonly der: Buffer;
  readonly certStatus: CertStatusName;
  /** ca/revocation/ocsp-ports.ts StatusRank of the certificate status the response was made from. */
  readonly rank: StatusRank;
  /** ca/revocation/ocsp-ports.ts: the certificate's status version it was made from; absent: 0. */
  readonly statusVersion?: number;
  /** What the response says, for a live answer (nonce, several CertIDs) without reading the database. */
  readonly status: SingleStatus;
  /** A provisional answer (pending serial): short validity. */
  readonly provisional: boolean;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly producedAt: Date;
  /** Quoted SHA-1 of the DER (RFC 5019 §6.2 suggests a hash of the response). */
  readonly etag: string;
  /** HTTP dates of thisUpdate and nextUpdate. */
  readonly lastModified: string;
  readonly expires: string;
  /**
   * When this process last noted a request for it (ms; ocsp/demand-recorder.ts), starting from the
   * stored last_requested_at: the one mutable field, so the hot path notes demand without a lookup.
   */
  requestedMark?: number;
}

/** `caId|hash|serial`: a serial is answered per CA generation (a serial of another generation is not ours there). */
export const cacheKey = (caId: CaId, hash: CertIdHash, serial: string): string => `${caId}|${hash}|${serial}`;

export function toCachedResponse(r: StoredOcspResponse): CachedResponse {
  const der = Buffer.isBuffer(r.der) ? r.der : Buffer.from(r.der.buffer, r.der.byteOffset, r.der.byteLength);
  const { status, provisional } = statusOfStored(r);
  return {
    key: cacheKey(r.caId, r.hash, r.serial),
    caId: r.caId,
    hash: r.hash,
    serial: r.serial,
    der,
    certStatus: r.certStatus,
    rank: r.rank,
    statusVersion: r.statusVersion ?? 0,
    status,
    provisional,
    thisUpdate: r.thisUpdate,
    nextUpdate: r.nextUpdate,
    producedAt: r.producedAt,
    etag: `"${createHash("sha1").update(der).digest("hex")}"`,
    lastModified: r.thisUpdate.toUTCString(),
    expires: r.nextUpdate.toUTCString(),
    requestedMark: r.lastRequestedAt?.getTime() ?? 0,
  };
}

/** True when `a` may replace `b` (newer wins). */
export function supersedes(a: CachedResponse, b: CachedResponse): boolean {
  return isNotOlderThan(a, b);
}

/** An entry, and the tick of its last move to the young end of the map's order. */
interface Slot {
  value: CachedResponse;
  tick: number;
}

/**
 * The responses served from memory, least recently used evicted first, approximately: a read moves
 * its entry to the young end only when the entry has aged past half the capacity (insertions and
 * moves since its last move). So a hit, the OCSP hot path, is one map lookup instead of a delete and
 * a re-insert, and still an entry read within the last `maxEntries / 2` insertions is never evicted.
 */
export class ResponseCache {
  private readonly entries = new Map<string, Slot>();
  private tick = 0;
  private readonly stale: number;
  /** Keys changed recently, with the version of their change (bounded like the entries). */
  private readonly changes = new Map<string, number>();
  private changeVersion = 0;

  constructor(readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError("maxEntries must be a positive integer");
    this.stale = Math.floor(maxEntries / 2);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Increases with every noted change; take it before reading the database. */
  get version(): number {
    return this.changeVersion;
  }

  get(key: string): CachedResponse | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (this.tick - e.tick > this.stale) {
      this.entries.delete(key);
      this.entries.set(key, e);
      e.tick = ++this.tick;
    }
    return e.value;
  }

  /** Inserts or replaces (newer wins). */
  set(entry: CachedResponse): void {
    const existing = this.entries.get(entry.key);
    if (existing !== undefined && !supersedes(entry, existing.value)) return;
    this.entries.delete(entry.key);
    this.entries.set(entry.key, { value: entry, tick: ++this.tick });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  /** Replaces the entry only when it is cached (a refresh elsewhere must not fill the cache). */
  replaceIfPresent(entry: CachedResponse): void {
    const existing = this.entries.get(entry.key);
    if (existing !== undefined && supersedes(entry, existing.value)) existing.value = entry;
  }

  /** Records that the key changed in the database (a reader in flight must not cache its older result). */
  noteChange(key: string): void {
    this.changes.delete(key);
    this.changes.set(key, ++this.changeVersion);
    if (this.changes.size > this.maxEntries) {
      const oldest = this.changes.keys().next();
      if (!oldest.done) this.changes.delete(oldest.value);
    }
  }

  /** `set`, unless the key changed after `version` was taken. @returns whether it was cached */
  setIfUnchangedSince(entry: CachedResponse, version: number): boolean {
    if ((this.changes.get(entry.key) ?? 0) > version) return false;
    this.set(entry);
    return true;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
