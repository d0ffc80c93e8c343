import type { CertIdHash } from "../../../ocsp/cert-id.js";
import type {
  CertificateStatusSnapshot,
  CertificateStatusSource,
  OcspAccessLog,
  OcspAccessRecord,
  OcspResponseStore,
  StoredOcspResponse,
} from "../../../ca/revocation/ocsp-ports.js";
import { isNotOlderThan, storedResponseKey } from "../../../ca/revocation/ocsp-ports.js";

/**
 * The OCSP ports in memory, for unit tests; test/contract/ocsp-store.ts holds it to the same rules as
 * db/ocsp-store.ts. Certificates are set directly with `setCertificate`.
 */
export class MemoryOcspStore implements OcspResponseStore, CertificateStatusSource, OcspAccessLog {
  readonly certificates = new Map<string, CertificateStatusSnapshot>();
  readonly rows = new Map<string, StoredOcspResponse & { seq: number; refreshAt: Date | null }>();
  readonly accessLog: OcspAccessRecord[] = [];
  private seq = 0;
  /** Calls of get and getMany (tests check that hits do not reach the store). */
  gets = 0;
  /** Set to make every call fail (database down). */
  failing = false;
  /** Calls of the batch reads and writes (tests check that a batch shares them). */
  readonly calls = { statuses: 0, getMany: 0, putMany: 0 };
  /** Runs after each putMany (tests make the database fail between the store and the re-read). */
  afterPutMany: (() => void) | undefined;

  setCertificate(s: CertificateStatusSnapshot): void {
    this.certificates.set(s.serial, s);
  }

  private check(): void {
    if (this.failing) throw new Error("database down");
  }

  async statuses(serials: readonly string[]): Promise<Map<string, CertificateStatusSnapshot>> {
    this.check();
    this.calls.statuses++;
    const out = new Map<string, CertificateStatusSnapshot>();
    for (const s of serials) {
      const c = this.certificates.get(s);
      if (c) out.set(s, c);
    }
    return out;
  }

  async get(serial: string, hash: CertIdHash): Promise<StoredOcspResponse | undefined> {
    this.check();
    this.gets++;
    const r = this.rows.get(`${serial}|${hash}`);
    return r && strip(r);
  }

  async put(r: StoredOcspResponse): Promise<boolean> {
    this.check();
    const key = `${r.serial}|${r.hash}`;
    const old = this.rows.get(key);
    if (old && !isNotOlderThan(r, old)) return false;
    const requested = [old?.lastRequestedAt, r.lastRequestedAt].filter((d): d is Date => d instanceof Date).map((d) => d.getTime());
    const refreshAt = new Date(r.thisUpdate.getTime() + (r.nextUpdate.getTime() - r.thisUpdate.getTime()) / 2);
    this.rows.set(key, { ...r, statusVersion: r.statusVersion ?? 0, lastRequestedAt: requested.length > 0 ? new Date(Math.max(...requested)) : null, seq: ++this.seq, refreshAt });
    return true;
  }

  async getMany(keys: ReadonlyArray<{ serial: string; hash: CertIdHash }>): Promise<Map<string, StoredOcspResponse>> {
    this.check();
    this.calls.getMany++;
    this.gets++;
    const out = new Map<string, StoredOcspResponse>();
    for (const k of keys) {
      const r = this.rows.get(storedResponseKey(k.serial, k.hash));
      if (r) out.set(storedResponseKey(k.serial, k.hash), strip(r));
    }
    return out;
  }

  async putMany(responses: readonly StoredOcspResponse[]): Promise<Set<string>> {
    this.check();
    this.calls.putMany++;
    const written = new Set<string>();
    for (const r of responses) if (await this.put(r)) written.add(storedResponseKey(r.serial, r.hash));
    this.afterPutMany?.();
    return written;
  }

  async hashesOf(serials: readonly string[], freshAt?: Date): Promise<Map<string, CertIdHash[]>> {
    this.check();
    const out = new Map<string, CertIdHash[]>();
    for (const r of this.rows.values()) {
      if (!serials.includes(r.serial) || (freshAt !== undefined && r.nextUpdate <= freshAt)) continue;
      out.set(r.serial, [...(out.get(r.serial) ?? []), r.hash]);
    }
    return out;
  }

  async listDue(now: Date, limit: number): Promise<Array<{ serial: string; hash: CertIdHash; expired: boolean; lastRequestedAt: Date | null }>> {
    this.check();
    return [...this.rows.values()]
      .filter((r) => r.refreshAt !== null && r.refreshAt <= now && this.certificates.has(r.serial))
      .sort((a, b) => a.refreshAt!.getTime() - b.refreshAt!.getTime())
      .slice(0, limit)
      .map((r) => ({ serial: r.serial, hash: r.hash, expired: this.certificates.get(r.serial)!.notAfter <= now, lastRequestedAt: r.lastRequestedAt ?? null }));
  }

  async unschedule(items: ReadonlyArray<{ serial: string; hash: CertIdHash }>): Promise<void> {
    this.check();
    for (const i of items) {
      const r = this.rows.get(`${i.serial}|${i.hash}`);
      if (r) r.refreshAt = null;
    }
  }

  /** Calls of touch and keys touched (tests check the batching). */
  touches = 0;
  touched = 0;

  async touch(items: ReadonlyArray<{ serial: string; hash: CertIdHash }>, at: Date): Promise<void> {
    this.check();
    this.touches++;
    for (const i of items) {
      const r = this.rows.get(`${i.serial}|${i.hash}`);
      if (!r) continue;
      this.touched++;
      const last = r.lastRequestedAt && r.lastRequestedAt > at ? r.lastRequestedAt : at;
      this.rows.set(`${i.serial}|${i.hash}`, { ...r, lastRequestedAt: last, refreshAt: r.refreshAt ?? at });
    }
  }

  async dropUnrequested(now: Date, requestedBefore: Date, limit: number): Promise<number> {
    this.check();
    const drop = [...this.rows.entries()]
      .filter(([, r]) => r.refreshAt === null && r.nextUpdate <= now && (!r.lastRequestedAt || r.lastRequestedAt < requestedBefore))
      .slice(0, limit);
    for (const [k] of drop) this.rows.delete(k);
    return drop.length;
  }

  async countStored(): Promise<number> {
    this.check();
    return this.rows.size;
  }

  async remove(items: ReadonlyArray<{ serial: string; hash: CertIdHash }>): Promise<void> {
    this.check();
    for (const i of items) this.rows.delete(`${i.serial}|${i.hash}`);
  }

  async changedSince(seq: number, limit: number): Promise<{ rows: StoredOcspResponse[]; lastSeq: number }> {
    this.check();
    const rows = [...this.rows.values()].filter((r) => r.seq > seq).sort((a, b) => a.seq - b.seq).slice(0, limit);
    return { rows: rows.map(strip), lastSeq: rows.length > 0 ? rows[rows.length - 1]!.seq : seq };
  }

  async lastSeq(): Promise<number> {
    this.check();
    return Math.max(0, ...[...this.rows.values()].map((r) => r.seq));
  }

  async oldestThisUpdate(): Promise<Date | undefined> {
    this.check();
    const times = [...this.rows.values()].filter((r) => r.refreshAt !== null).map((r) => r.thisUpdate.getTime());
    return times.length === 0 ? undefined : new Date(Math.min(...times));
  }

  async append(records: readonly OcspAccessRecord[]): Promise<void> {
    this.check();
    this.accessLog.push(...records);
  }
}

function strip(r: StoredOcspResponse & { seq: number; refreshAt: Date | null }): StoredOcspResponse {
  const { seq: _seq, refreshAt: _refreshAt, ...rest } = r;
  return rest;
}
