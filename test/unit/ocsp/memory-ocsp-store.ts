import type { CertIdHash } from "../../../ocsp/cert-id.js";
import type {
  CertificateStatusSnapshot,
  CertificateStatusSource,
  OcspAccessLog,
  OcspAccessRecord,
  OcspResponseStore,
  StoredOcspResponse,
} from "../../../ca/revocation/ocsp-ports.js";

/**
 * The OCSP ports in memory, for unit tests; test/contract/ocsp-store.ts holds it to the same rules as
 * db/ocsp-store.ts. Certificates are set directly with `setCertificate`.
 */
export class MemoryOcspStore implements OcspResponseStore, CertificateStatusSource, OcspAccessLog {
  readonly certificates = new Map<string, CertificateStatusSnapshot>();
  readonly rows = new Map<string, StoredOcspResponse & { seq: number }>();
  readonly accessLog: OcspAccessRecord[] = [];
  private seq = 0;
  /** Calls of get (tests check that hits do not reach the store). */
  gets = 0;
  /** Set to make every call fail (database down). */
  failing = false;

  setCertificate(s: CertificateStatusSnapshot): void {
    this.certificates.set(s.serial, s);
  }

  private check(): void {
    if (this.failing) throw new Error("database down");
  }

  async statuses(serials: readonly string[]): Promise<Map<string, CertificateStatusSnapshot>> {
    this.check();
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
    if (old && !(old.rank < r.rank || (old.rank === r.rank && old.thisUpdate.getTime() <= r.thisUpdate.getTime()))) return false;
    this.rows.set(key, { ...r, seq: ++this.seq });
    return true;
  }

  async hashesOf(serials: readonly string[]): Promise<Map<string, CertIdHash[]>> {
    this.check();
    const out = new Map<string, CertIdHash[]>();
    for (const r of this.rows.values()) {
      if (!serials.includes(r.serial)) continue;
      out.set(r.serial, [...(out.get(r.serial) ?? []), r.hash]);
    }
    return out;
  }

  async listDue(thisUpdateBefore: Date, now: Date, limit: number): Promise<Array<{ serial: string; hash: CertIdHash; expired: boolean }>> {
    this.check();
    return [...this.rows.values()]
      .filter((r) => r.thisUpdate <= thisUpdateBefore && this.certificates.has(r.serial))
      .sort((a, b) => a.thisUpdate.getTime() - b.thisUpdate.getTime())
      .slice(0, limit)
      .map((r) => ({ serial: r.serial, hash: r.hash, expired: this.certificates.get(r.serial)!.notAfter <= now }));
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
    const times = [...this.rows.values()].map((r) => r.thisUpdate.getTime());
    return times.length === 0 ? undefined : new Date(Math.min(...times));
  }

  async append(records: readonly OcspAccessRecord[]): Promise<void> {
    this.check();
    this.accessLog.push(...records);
  }
}

function strip(r: StoredOcspResponse & { seq: number }): StoredOcspResponse {
  const { seq: _seq, ...rest } = r;
  return rest;
}
