import { AsyncLocalStorage } from "node:async_hooks";
import { GENESIS_PREV_HASH, hashEntry } from "../../ca/audit/audit-chain.js";
import { CaError } from "../../ca/errors.js";
import type {
  AuditStore,
  CaGenerationStore,
  CertificateStore,
  NewPendingCertificate,
  TransactionRunner,
  Tx,
} from "../../ca/stores.js";
import { PublicKeyInUseError, PublicKeyRefusedError, type IssuanceRecord, type ResidentRecord } from "../../ca/issuance/issuance-ports.js";
import type { OutboxTopic } from "../../ca/revocation/outbox.js";
import type { CertificateLink } from "../../ca/linkage/certificate-links.js";
import type {
  AuditEntry,
  AuditEntryInput,
  CaGeneration,
  CaId,
  CaKind,
  CertificateRecord,
  CertificateStatus,
  RevocationReason,
} from "../../ca/types.js";

/**
 * In-memory doubles of the store ports for unit tests of the core. They pass the same contract suite
 * (test/contract/stores.ts) as the knex adapters, including the traps that matter on a real database:
 * - transactions are serialised and roll back every write when `work` throws;
 * - a store call without `tx` inside an open transaction throws (it deadlocks on PGlite);
 * - after a failed statement the transaction is aborted, as in PostgreSQL;
 * - duplicate serials/ids are CaError("conflict"), a missing CA generation is CaError("not-found").
 */

interface MemoryState {
  generations: Map<string, CaGeneration>;
  certificates: Map<string, CertificateRecord>;
  audit: AuditEntry[];
  head: { seq: number; hash: string };
  /** Issuance records and the CA's copy of residents (test/support/memory-issuance-stores.ts). */
  issuances: Map<string, IssuanceRecord>;
  residents: Map<string, { record: ResidentRecord; municipalityCode: string | null }>;
  outbox: Array<{ id: number; topic: OutboxTopic; payload: Record<string, unknown>; createdAt: Date }>;
  /** The certificate linkage graph (test/support/memory-certificate-links.ts). */
  links: CertificateLink[];
}

class MemoryTx {
  open = true;
  aborted = false;
  constructor(readonly db: MemoryDatabase) {}
}

/** Serialises access the way a single connection does. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const prev = this.tail;
    this.tail = prev.then(() => next);
    await prev;
    return release;
  }
}

/** The shared state and TransactionRunner behind the memory stores. */
export class MemoryDatabase implements TransactionRunner {
  readonly state: MemoryState = {
    generations: new Map(),
    certificates: new Map(),
    audit: [],
    head: { seq: 0, hash: GENESIS_PREV_HASH },
    issuances: new Map(),
    residents: new Map(),
    outbox: [],
    links: [],
  };
  private readonly mutex = new Mutex();
  private readonly scopes = new AsyncLocalStorage<MemoryTx>();

  async transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    this.assertOutsideTransaction("opened a transaction");
    const release = await this.mutex.lock();
    const s = this.state;
    const snapshot = {
      generations: new Map(s.generations),
      certificates: new Map(s.certificates),
      audit: s.audit.slice(),
      head: { ...s.head },
      issuances: new Map(s.issuances),
      residents: new Map(s.residents),
      outbox: s.outbox.slice(),
      links: s.links.slice(),
    };
    const handle = new MemoryTx(this);
    try {
      const result = await this.scopes.run(handle, () => work(handle));
      if (handle.aborted) throw new CaError("internal", "transaction was aborted by an earlier error");
      return result;
    } catch (err) {
      Object.assign(s, snapshot);
      throw err;
    } finally {
      handle.open = false;
      release();
    }
  }

  /** Runs one store operation atomically, in `tx` or on its own. */
  async run<T>(tx: Tx | undefined, op: (state: MemoryState) => T): Promise<T> {
    if (tx === undefined || tx === null) {
      this.assertOutsideTransaction("used the root connection");
      const release = await this.mutex.lock();
      try {
        return op(this.state);
      } finally {
        release();
      }
    }
    if (!(tx instanceof MemoryTx) || tx.db !== this || !tx.open) throw new CaError("internal", "tx is not an open transaction of this database");
    if (tx.aborted) throw new CaError("internal", "current transaction is aborted");
    try {
      return op(this.state);
    } catch (err) {
      tx.aborted = true; // PostgreSQL: any error aborts the transaction
      throw err;
    }
  }

  private assertOutsideTransaction(what: string): void {
    if (this.scopes.getStore()?.open) {
      throw new CaError("internal", `${what} inside an open transaction without passing tx (would deadlock on PGlite)`);
    }
  }
}

const copy = (b: Uint8Array): Uint8Array => new Uint8Array(b);
const copyOrNull = (b: Uint8Array | null): Uint8Array | null => (b === null ? null : copy(b));
const viaJson = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function copyGeneration(ca: CaGeneration): CaGeneration {
  return { ...ca, certificate: copy(ca.certificate), ocspResponderCertificate: copyOrNull(ca.ocspResponderCertificate), createdAt: new Date(ca.createdAt) };
}

function copyCertificate(c: CertificateRecord): CertificateRecord {
  return {
    ...c,
    notBefore: new Date(c.notBefore),
    notAfter: new Date(c.notAfter),
    der: copyOrNull(c.der),
    tbs: copyOrNull(c.tbs),
    recorded: viaJson(c.recorded),
    revokedAt: c.revokedAt && new Date(c.revokedAt),
    invalidityDate: c.invalidityDate && new Date(c.invalidityDate),
    createdAt: new Date(c.createdAt),
  };
}

export class MemoryCaGenerationStore implements CaGenerationStore {
  constructor(private readonly db: MemoryDatabase) {}

  list(tx?: Tx): Promise<CaGeneration[]> {
    return this.db.run(tx, (s) =>
      [...s.generations.values()].sort((a, b) => a.kind.localeCompare(b.kind) || a.generation - b.generation).map(copyGeneration),
    );
  }

  get(id: CaId, tx?: Tx): Promise<CaGeneration | undefined> {
    return this.db.run(tx, (s) => {
      const ca = s.generations.get(id);
      return ca && copyGeneration(ca);
    });
  }

  active(kind: CaKind, tx?: Tx): Promise<CaGeneration | undefined> {
    return this.db.run(tx, (s) => {
      const all = [...s.generations.values()].filter((c) => c.kind === kind && c.status === "active");
      const newest = all.sort((a, b) => b.generation - a.generation)[0];
      return newest && copyGeneration(newest);
    });
  }

  insert(ca: CaGeneration, tx?: Tx): Promise<void> {
    return this.db.run(tx, (s) => {
      for (const other of s.generations.values()) {
        if (other.id === ca.id || other.serialPrefix === ca.serialPrefix || (other.kind === ca.kind && other.generation === ca.generation)) {
          throw new CaError("conflict", "CA generation already exists");
        }
      }
      s.generations.set(ca.id, copyGeneration(ca));
    });
  }

  setStatus(id: CaId, status: CaGeneration["status"], tx?: Tx): Promise<void> {
    return this.update(id, tx, (ca) => ({ ...ca, status }));
  }

  setOcspResponder(id: CaId, certificate: Uint8Array, keyUri: string, tx?: Tx): Promise<void> {
    return this.update(id, tx, (ca) => ({ ...ca, ocspResponderCertificate: copy(certificate), ocspResponderKeyUri: keyUri }));
  }

  private update(id: CaId, tx: Tx | undefined, change: (ca: CaGeneration) => CaGeneration): Promise<void> {
    return this.db.run(tx, (s) => {
      const ca = s.generations.get(id);
      if (!ca) throw new CaError("not-found", "CA generation not found");
      s.generations.set(id, change(ca));
    });
  }
}

const liveStatuses: readonly CertificateStatus[] = ["pending", "valid", "hold"];
const revocableFrom: Readonly<Record<"revoked" | "hold", readonly CertificateStatus[]>> = {
  revoked: ["pending", "valid", "hold"],
  hold: ["pending", "valid"],
};
const byCreated = (a: CertificateRecord, b: CertificateRecord): number =>
  a.createdAt.getTime() - b.createdAt.getTime() || (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0);

export class MemoryCertificateStore implements CertificateStore {
  constructor(private readonly db: MemoryDatabase) {}

  insertPending(cert: NewPendingCertificate, tx?: Tx): Promise<void> {
    return this.db.run(tx, (s) => {
      if (!/^[0-9a-f]{1,40}$/.test(cert.serial)) throw new RangeError("serial must be lower-case hex");
      if (s.certificates.has(cert.serial)) throw new CaError("conflict", "certificate serial already exists");
      // certificates_live_public_key_uniq (migration 0015): one live certificate per key.
      for (const c of s.certificates.values()) {
        if (c.publicKeySha256 === cert.publicKeySha256 && (c.status === "pending" || c.status === "valid" || c.status === "hold")) throw new PublicKeyInUseError();
      }
      // Migration 0019 (certificates_refuse_used_key): a key revoked for keyCompromise is blocked, one in
      // any other revoked certificate was certified before. (Rows are never deleted here, so the revoked
      // rows themselves stand for blocked_keys.)
      const revoked = [...s.certificates.values()].filter((c) => c.publicKeySha256 === cert.publicKeySha256 && c.status === "revoked");
      if (revoked.some((c) => c.revocationReason === "keyCompromise")) throw new PublicKeyRefusedError("blocked", cert.publicKeySha256);
      if (revoked.length > 0) throw new PublicKeyRefusedError("certified-before", cert.publicKeySha256);
      if (!s.generations.has(cert.caId)) throw new CaError("not-found", "certificate serial refers to a missing record");
      s.certificates.set(cert.serial, copyCertificate({
        serial: cert.serial,
        caId: cert.caId,
        kind: cert.kind,
        device: cert.device ?? "card",
        status: "pending",
        notBefore: cert.notBefore,
        notAfter: cert.notAfter,
        partition: cert.partition,
        der: null,
        tbs: cert.tbs,
        publicKeySha256: cert.publicKeySha256,
        subjectId: cert.subjectId,
        residentCode: cert.residentCode,
        issuanceId: cert.issuanceId,
        recorded: cert.recorded,
        revokedAt: null,
        revocationReason: null,
        invalidityDate: null,
        createdAt: cert.createdAt,
      }));
    });
  }

  completeIssued(serial: string, der: Uint8Array, tx?: Tx): Promise<void> {
    return this.transition(serial, tx, "is not awaiting its certificate", (c) =>
      c.der === null && ["pending", "revoked", "hold"].includes(c.status)
        ? { ...c, der: copy(der), status: c.status === "pending" ? "valid" : c.status }
        : undefined,
    );
  }

  markFailed(serial: string, tx?: Tx): Promise<void> {
    return this.transition(serial, tx, "is not pending", (c) => (c.status === "pending" ? { ...c, status: "failed" } : undefined));
  }

  get(serial: string, tx?: Tx): Promise<CertificateRecord | undefined> {
    return this.db.run(tx, (s) => {
      const c = s.certificates.get(serial);
      return c && copyCertificate(c);
    });
  }

  listPending(before: Date, limit: number, tx?: Tx): Promise<CertificateRecord[]> {
    return this.select(tx, (c) => c.status === "pending" && c.createdAt < before, limit);
  }

  findLiveByPublicKey(publicKeySha256: string, tx?: Tx): Promise<CertificateRecord[]> {
    return this.select(tx, (c) => c.publicKeySha256 === publicKeySha256 && liveStatuses.includes(c.status));
  }

  async listByIssuance(issuanceId: string, tx?: Tx): Promise<CertificateRecord[]> {
    const rows = await this.select(tx, (c) => c.issuanceId === issuanceId);
    return rows.sort((a, b) => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0));
  }

  findLiveByResident(residentCode: string, tx?: Tx): Promise<CertificateRecord[]> {
    return this.select(tx, (c) => c.residentCode === residentCode && liveStatuses.includes(c.status));
  }

  findLiveByResidentOrKeys(residentCode: string, publicKeySha256s: readonly string[], tx?: Tx): Promise<CertificateRecord[]> {
    return this.select(tx, (c) => (c.residentCode === residentCode || publicKeySha256s.includes(c.publicKeySha256)) && liveStatuses.includes(c.status));
  }

  revoke(
    serial: string,
    change: { status: "revoked" | "hold"; reason: RevocationReason; revokedAt: Date; invalidityDate: Date | null },
    tx?: Tx,
  ): Promise<boolean> {
    return this.db.run(tx, (s) => {
      const c = s.certificates.get(serial);
      if (!c || !revocableFrom[change.status].includes(c.status)) return false;
      s.certificates.set(serial, {
        ...c,
        status: change.status,
        revocationReason: change.reason,
        revokedAt: new Date(change.revokedAt),
        invalidityDate: change.invalidityDate && new Date(change.invalidityDate),
      });
      return true;
    });
  }

  private select(tx: Tx | undefined, keep: (c: CertificateRecord) => boolean, limit = Infinity): Promise<CertificateRecord[]> {
    return this.db.run(tx, (s) => [...s.certificates.values()].filter(keep).sort(byCreated).slice(0, limit).map(copyCertificate));
  }

  private transition(
    serial: string,
    tx: Tx | undefined,
    state: string,
    next: (c: CertificateRecord) => CertificateRecord | undefined,
  ): Promise<void> {
    return this.db.run(tx, (s) => {
      const c = s.certificates.get(serial);
      if (!c) throw new CaError("not-found", "certificate not found");
      const changed = next(c);
      if (!changed) throw new CaError("conflict", `certificate ${state}`);
      s.certificates.set(serial, changed);
    });
  }
}

export class MemoryAuditStore implements AuditStore {
  constructor(private readonly db: MemoryDatabase) {}

  async append(entry: AuditEntryInput, tx?: Tx): Promise<AuditEntry> {
    if (tx === undefined || tx === null) return this.db.transaction((own) => this.append(entry, own));
    return this.db.run(tx, (s) => {
      const fields = {
        seq: s.head.seq + 1,
        at: new Date(entry.at),
        action: entry.action,
        actor: entry.actor,
        subject: entry.subject ?? null,
        outcome: entry.outcome,
        detail: viaJson(entry.detail), // what jsonb keeps
      };
      const hash = hashEntry(s.head.hash, fields);
      const stored: AuditEntry = { ...fields, prevHash: s.head.hash, hash };
      s.audit.push(stored);
      s.head = { seq: fields.seq, hash };
      return { ...stored, at: new Date(stored.at), detail: viaJson(stored.detail) };
    });
  }

  range(fromSeq: number, limit: number, tx?: Tx): Promise<AuditEntry[]> {
    return this.db.run(tx, (s) =>
      s.audit.filter((e) => e.seq >= fromSeq).slice(0, limit).map((e) => ({ ...e, at: new Date(e.at), detail: viaJson(e.detail) })),
    );
  }
}

/** A fresh memory database and its three stores. */
export function createMemoryStores(): {
  db: MemoryDatabase;
  caGenerations: MemoryCaGenerationStore;
  certificates: MemoryCertificateStore;
  audit: MemoryAuditStore;
} {
  const db = new MemoryDatabase();
  return { db, caGenerations: new MemoryCaGenerationStore(db), certificates: new MemoryCertificateStore(db), audit: new MemoryAuditStore(db) };
}
