import type { ResidentMunicipalities } from "../../ca/access/resident-access.js";
import { CaError } from "../../ca/errors.js";
import {
  IdempotencyKeyInUseError,
  type IssuanceCompleted,
  type IssuanceRecord,
  type IssuanceStore,
  type ResidentRecord,
  type ResidentStore,
} from "../../ca/issuance/issuance-ports.js";
import type { OutboxMessage, OutboxReader } from "../../ca/revocation/outbox.js";
import type { NewPendingCertificate, Tx } from "../../ca/stores.js";
import type { CertificateRecord } from "../../ca/types.js";
import type { MemoryCertificateStore, MemoryDatabase } from "./memory-stores.js";
import { linksOfIssuance } from "../../ca/linkage/certificate-links.js";
import { insertLinks } from "./memory-certificate-links.js";

/**
 * In-memory doubles of the issuance ports (ca/issuance/issuance-ports.ts) over a MemoryDatabase, so
 * they roll back with its transactions: the issuance records, the CA's copy of the resident record
 * (with its current municipality, ResidentMunicipalities) and an outbox reader. They pass the same
 * contract suite as the knex stores (test/contract/issuance-stores.ts, run in
 * test/unit/db/memory-issuance-stores.test.ts).
 */

const copyIssuance = (r: IssuanceRecord): IssuanceRecord => ({
  ...r,
  response: r.response === null ? null : (JSON.parse(JSON.stringify(r.response)) as Record<string, unknown>),
  createdAt: new Date(r.createdAt),
  completedAt: r.completedAt && new Date(r.completedAt),
});
const copyResident = (r: ResidentRecord): ResidentRecord => ({ ...r, updatedAt: new Date(r.updatedAt) });
const bySerial = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export class MemoryIssuanceStore implements IssuanceStore {
  constructor(
    private readonly db: MemoryDatabase,
    private readonly certificates: MemoryCertificateStore,
  ) {}

  insert(record: IssuanceRecord, tx?: Tx): Promise<void> {
    return this.db.run(tx, (s) => {
      for (const r of s.issuances.values()) {
        if (r.issuanceId === record.issuanceId || (r.terminalId === record.terminalId && r.idempotencyKey === record.idempotencyKey)) throw new IdempotencyKeyInUseError();
      }
      s.issuances.set(record.issuanceId, copyIssuance(record));
    });
  }

  findByKey(terminalId: string, idempotencyKey: string, tx?: Tx): Promise<IssuanceRecord | undefined> {
    return this.db.run(tx, (s) => {
      const r = [...s.issuances.values()].find((x) => x.terminalId === terminalId && x.idempotencyKey === idempotencyKey);
      return r && copyIssuance(r);
    });
  }

  get(issuanceId: string, tx?: Tx): Promise<IssuanceRecord | undefined> {
    return this.db.run(tx, (s) => {
      const r = s.issuances.get(issuanceId);
      return r && copyIssuance(r);
    });
  }

  complete(issuanceId: string, response: Readonly<Record<string, unknown>>, at: Date, tx?: Tx): Promise<boolean> {
    return this.finish(issuanceId, tx, (r) => ({ ...r, status: "completed", response: { ...response }, completedAt: at }));
  }

  fail(issuanceId: string, at: Date, tx?: Tx): Promise<boolean> {
    return this.finish(issuanceId, tx, (r) => ({ ...r, status: "failed", completedAt: at }));
  }

  async insertWithCertificates(record: IssuanceRecord, certificates: readonly NewPendingCertificate[], tx?: Tx): Promise<void> {
    // All or nothing: in the caller's transaction, or in one of our own.
    if (tx === undefined) return this.db.transaction((own) => this.insertWithCertificates(record, certificates, own));
    await this.insert(record, tx);
    for (const c of certificates) await this.certificates.insertPending(c, tx);
  }

  async completeWithCertificates(
    issuanceId: string,
    signed: ReadonlyArray<{ readonly serial: string; readonly der: Uint8Array }>,
    response: Readonly<Record<string, unknown>>,
    at: Date,
    tx?: Tx,
  ): Promise<IssuanceCompleted | undefined> {
    if (tx === undefined) return this.db.transaction((own) => this.completeWithCertificates(issuanceId, signed, response, at, own));
    if (signed.length === 0) throw new CaError("internal", "an issuance completes with at least one certificate");
    const issuance = await this.get(issuanceId, tx);
    if (issuance?.status !== "pending") return undefined;
    // The linkage graph (docs/linkage.md): the resident's earlier certificates ever issued, read before this
    // completion changes anything (as the statement's snapshot of db/issuance-store.ts), the most recent last:
    // the heads of chains (no successor yet) after the others, then by creation.
    const earlier = await this.db.run(tx, (s) => {
      const followed = new Set(s.links.filter((l) => l.link === "successor").map((l) => l.fromSerial));
      return [...s.certificates.values()]
        .filter((c) => c.residentCode === issuance.residentCode && c.issuanceId !== issuanceId && c.der !== null)
        .sort((a, b) => Number(followed.has(b.serial)) - Number(followed.has(a.serial)) || a.createdAt.getTime() - b.createdAt.getTime() || bySerial(a.serial, b.serial));
    });
    const issued: CertificateRecord[] = [];
    for (const { serial, der } of [...signed].sort((a, b) => bySerial(a.serial, b.serial))) {
      const c = await this.certificates.get(serial, tx);
      if (!c || c.issuanceId !== issuanceId) throw new CaError("conflict", "certificate is not awaiting its certificate");
      await this.certificates.completeIssued(serial, der, tx);
      issued.push(c);
    }
    // docs/domain.md §3: the resident's valid or held certificates of the kinds issued, from other issuances.
    const kinds = new Set(issued.map((c) => `${c.kind}/${c.device}`));
    const older = (await this.certificates.findLiveByResident(issuance.residentCode, tx)).filter(
      (c) => c.issuanceId !== issuanceId && (c.status === "valid" || c.status === "hold") && kinds.has(`${c.kind}/${c.device}`),
    );
    for (const c of older) await this.certificates.revoke(c.serial, { status: "revoked", reason: "superseded", revokedAt: at, invalidityDate: null }, tx);
    const completed: IssuanceRecord = { ...issuance, status: "completed", response: { ...response }, completedAt: at };
    await this.db.run(tx, (s) => {
      s.issuances.set(issuanceId, copyIssuance(completed));
      const add = (topic: OutboxMessage["topic"], payload: Record<string, unknown>): void => {
        s.outbox.push({ id: s.outbox.length + 1, topic, payload, createdAt: at });
      };
      for (const c of issued) add("certificate.issued", { serial: c.serial, caId: c.caId, partition: c.partition });
      for (const c of older) add("certificate.revoked", { serial: c.serial, caId: c.caId, partition: c.partition, reason: "superseded" });
    });
    const wanted = issued.flatMap((c) => linksOfIssuance([c], earlier.filter((p) => p.createdAt.getTime() <= c.createdAt.getTime()), issuance.residentCode, at).filter((l) => l.link === "successor"));
    wanted.push(...linksOfIssuance(issued, [], issuance.residentCode, at));
    const links = await this.db.run(tx, (s) => insertLinks(s.links, wanted));
    const linkOrder = (l: { link: string }): number => (l.link === "successor" ? 0 : 1);
    const recorded = links
      .map((l) => ({ fromSerial: l.fromSerial, toSerial: l.toSerial, link: l.link }))
      .sort((a, b) => linkOrder(a) - linkOrder(b) || bySerial(a.fromSerial, b.fromSerial) || bySerial(a.toSerial, b.toSerial));
    return { issuance: completed, superseded: older.map((c) => c.serial), links: recorded };
  }

  private finish(issuanceId: string, tx: Tx | undefined, next: (r: IssuanceRecord) => IssuanceRecord): Promise<boolean> {
    return this.db.run(tx, (s) => {
      const r = s.issuances.get(issuanceId);
      if (r?.status !== "pending") return false;
      s.issuances.set(issuanceId, copyIssuance(next(r)));
      return true;
    });
  }
}

/** ResidentStore and ResidentMunicipalities in memory: the record on file and its current municipality. */
export class MemoryResidentStore implements ResidentStore, ResidentMunicipalities {
  constructor(private readonly db: MemoryDatabase) {}

  getForUpdate(residentCode: string, tx?: Tx): Promise<ResidentRecord | undefined> {
    return this.db.run(tx, (s) => {
      const r = s.residents.get(residentCode);
      return r && copyResident(r.record);
    });
  }

  insert(record: ResidentRecord, tx?: Tx): Promise<void> {
    return this.db.run(tx, (s) => {
      if (s.residents.has(record.residentCode)) throw new CaError("conflict", "resident record already exists");
      s.residents.set(record.residentCode, { record: copyResident(record), municipalityCode: null });
    });
  }

  lockOrInsert(candidate: ResidentRecord, tx?: Tx): Promise<{ readonly record: ResidentRecord; readonly inserted: boolean }> {
    return this.db.run(tx, (s) => {
      const onFile = s.residents.get(candidate.residentCode);
      if (onFile) return { record: copyResident(onFile.record), inserted: false };
      s.residents.set(candidate.residentCode, { record: copyResident(candidate), municipalityCode: null });
      return { record: copyResident(candidate), inserted: true };
    });
  }

  currentMunicipality(residentCode: string, tx?: Tx): Promise<string | null | undefined> {
    return this.db.run(tx, (s) => {
      const r = s.residents.get(residentCode);
      return r === undefined ? undefined : r.municipalityCode;
    });
  }

  setMunicipality(residentCode: string, municipalityCode: string, tx?: Tx): Promise<void> {
    return this.db.run(tx, (s) => {
      const r = s.residents.get(residentCode);
      if (r) s.residents.set(residentCode, { ...r, municipalityCode });
    });
  }

  /** Test set-up: a record on file as the resident change events leave it (status, municipality). */
  put(record: ResidentRecord, municipalityCode: string | null): Promise<void> {
    return this.db.run(undefined, (s) => {
      s.residents.set(record.residentCode, { record: copyResident(record), municipalityCode });
    });
  }
}

/** OutboxReader over the memory outbox: a cursor per consumer (not transactional, as the tests need). */
export class MemoryOutboxReader implements OutboxReader {
  private readonly cursors = new Map<string, number>();
  constructor(private readonly db: MemoryDatabase) {}

  readAfterCursor(consumer: string, limit: number, tx?: Tx): Promise<OutboxMessage[]> {
    const after = this.cursors.get(consumer) ?? 0;
    return this.db.run(tx, (s) => s.outbox.filter((m) => m.id > after).slice(0, limit).map((m) => ({ ...m, payload: { ...m.payload }, createdAt: new Date(m.createdAt) })));
  }

  async advanceCursor(consumer: string, lastId: number): Promise<void> {
    this.cursors.set(consumer, Math.max(this.cursors.get(consumer) ?? 0, lastId));
  }
}
