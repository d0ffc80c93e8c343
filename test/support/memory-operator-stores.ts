import { CaError } from "../../ca/errors.js";
import type { OperatingSchedule } from "../../ca/operators/operating-hours.js";
import type {
  NewOperator,
  NewOperatorSession,
  NewTerminal,
  OperatorRecord,
  OperatorSessionRecord,
  OperatorSessionStore,
  OperatorStore,
  TerminalRecord,
  TerminalStore,
} from "../../ca/operators/operator-ports.js";
import type { OperatorRole } from "../../ca/operators/roles.js";
import type { TransactionRunner, Tx } from "../../ca/stores.js";
import { MemoryAuditStore, MemoryDatabase } from "./memory-stores.js";

/**
 * In-memory doubles of the operator, session and terminal stores (ca/operators/operator-ports.ts), passing the
 * same contract suite as the knex adapters (test/contract/operator-stores.ts). They ride on a
 * MemoryDatabase for serialisation, tx checks and abort-after-error; `MemoryOperatorDatabase` adds the
 * rollback of their own state, so use it (not the MemoryDatabase) as the TransactionRunner.
 */
interface OperatorState {
  operators: Map<string, OperatorRecord>;
  sessions: Map<string, OperatorSessionRecord>;
  terminals: Map<string, TerminalRecord>;
}

const cloneState = (s: OperatorState): OperatorState => ({ operators: new Map(s.operators), sessions: new Map(s.sessions), terminals: new Map(s.terminals) });

/** TransactionRunner over a MemoryDatabase that also rolls back the operator state. */
export class MemoryOperatorDatabase implements TransactionRunner {
  readonly state: OperatorState = { operators: new Map(), sessions: new Map(), terminals: new Map() };

  constructor(readonly base: MemoryDatabase) {}

  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.base.transaction(async (tx) => {
      const snapshot = cloneState(this.state);
      try {
        const result = await work(tx);
        if ((tx as { aborted?: boolean }).aborted) Object.assign(this.state, snapshot); // base throws next
        return result;
      } catch (err) {
        Object.assign(this.state, snapshot);
        throw err;
      }
    });
  }

  run<T>(tx: Tx | undefined, op: (s: OperatorState) => T): Promise<T> {
    return this.base.run(tx, () => op(this.state));
  }
}

const d = (x: Date): Date => new Date(x.getTime());
const dn = (x: Date | null): Date | null => (x === null ? null : d(x));
const copyOperator = (o: OperatorRecord): OperatorRecord => ({
  ...o,
  roles: [...o.roles],
  passwordChangedAt: d(o.passwordChangedAt),
  lockedAt: dn(o.lockedAt),
  createdAt: d(o.createdAt),
  updatedAt: d(o.updatedAt),
  confirmedAt: dn(o.confirmedAt),
  sponsors: [...o.sponsors],
});
const copySession = (s: OperatorSessionRecord): OperatorSessionRecord => ({ ...s, createdAt: d(s.createdAt), lastSeenAt: d(s.lastSeenAt), endedAt: dn(s.endedAt) });
const copySchedule = (h: OperatingSchedule | null): OperatingSchedule | null => (h === null ? null : (JSON.parse(JSON.stringify(h)) as OperatingSchedule));
const copyTerminal = (t: TerminalRecord): TerminalRecord => ({ ...t, operatingHours: copySchedule(t.operatingHours), enrolledAt: d(t.enrolledAt), revokedAt: dn(t.revokedAt) });

export class MemoryOperatorStore implements OperatorStore {
  constructor(private readonly db: MemoryOperatorDatabase) {}

  insert(op: NewOperator, tx?: Tx): Promise<void> {
    return this.db.run(tx, (s) => {
      if (s.operators.has(op.operatorId)) throw new CaError("conflict", "operator already exists");
      s.operators.set(op.operatorId, copyOperator({
        operatorId: op.operatorId,
        displayName: op.displayName,
        roles: op.roles,
        passwordHash: op.passwordHash,
        passwordChangedAt: op.createdAt,
        mustChangePassword: op.mustChangePassword,
        failedAttempts: 0,
        lockedAt: null,
        active: true,
        createdAt: op.createdAt,
        updatedAt: op.createdAt,
        confirmedBy: null,
        confirmedAt: null,
        sponsors: [],
      }));
    });
  }

  get(operatorId: string, tx?: Tx): Promise<OperatorRecord | undefined> {
    return this.db.run(tx, (s) => {
      const o = s.operators.get(operatorId);
      return o && copyOperator(o);
    });
  }

  list(tx?: Tx): Promise<OperatorRecord[]> {
    return this.db.run(tx, (s) => [...s.operators.values()].sort((a, b) => (a.operatorId < b.operatorId ? -1 : 1)).map(copyOperator));
  }

  recordFailure(operatorId: string, at: Date, lockAfter: number, tx?: Tx): Promise<{ failedAttempts: number; lockedAt: Date | null } | undefined> {
    return this.db.run(tx, (s) => {
      const o = s.operators.get(operatorId);
      if (!o) return undefined;
      const failedAttempts = o.failedAttempts + 1;
      const lockedAt = o.lockedAt ?? (failedAttempts >= lockAfter ? d(at) : null);
      s.operators.set(operatorId, { ...o, failedAttempts, lockedAt, updatedAt: d(at) });
      return { failedAttempts, lockedAt: dn(lockedAt) };
    });
  }

  recordSuccess(operatorId: string, at: Date, tx?: Tx): Promise<boolean> {
    return this.db.run(tx, (s) => {
      const o = s.operators.get(operatorId);
      if (!o || o.lockedAt !== null) return false;
      s.operators.set(operatorId, { ...o, failedAttempts: 0, updatedAt: d(at) });
      return true;
    });
  }

  unlock(operatorId: string, at: Date, tx?: Tx): Promise<boolean> {
    return this.db.run(tx, (s) => {
      const o = s.operators.get(operatorId);
      if (!o) return false;
      s.operators.set(operatorId, { ...o, failedAttempts: 0, lockedAt: null, updatedAt: d(at) });
      return true;
    });
  }

  setPassword(operatorId: string, change: { passwordHash: string; mustChangePassword: boolean; at: Date }, tx?: Tx): Promise<void> {
    return this.update(operatorId, tx, (o) => ({ ...o, passwordHash: change.passwordHash, mustChangePassword: change.mustChangePassword, passwordChangedAt: d(change.at), updatedAt: d(change.at) }));
  }

  setRoles(operatorId: string, roles: readonly OperatorRole[], at: Date, tx?: Tx): Promise<void> {
    return this.update(operatorId, tx, (o) => ({ ...o, roles: [...roles], updatedAt: d(at) }));
  }

  setActive(operatorId: string, active: boolean, at: Date, tx?: Tx): Promise<void> {
    return this.update(operatorId, tx, (o) => ({ ...o, active, updatedAt: d(at) }));
  }

  setConfirmation(operatorId: string, confirmation: { by: string; at: Date } | null, tx?: Tx): Promise<void> {
    return this.update(operatorId, tx, (o) => ({ ...o, confirmedBy: confirmation?.by ?? null, confirmedAt: confirmation ? d(confirmation.at) : null, ...(confirmation ? { updatedAt: d(confirmation.at) } : {}) }));
  }

  addSponsors(operatorId: string, sponsors: readonly string[], at: Date, tx?: Tx): Promise<void> {
    return this.update(operatorId, tx, (o) => ({ ...o, sponsors: [...new Set([...o.sponsors, ...sponsors])].sort(), updatedAt: d(at) }));
  }

  private update(operatorId: string, tx: Tx | undefined, change: (o: OperatorRecord) => OperatorRecord): Promise<void> {
    return this.db.run(tx, (s) => {
      const o = s.operators.get(operatorId);
      if (!o) throw new CaError("not-found", "operator not found");
      s.operators.set(operatorId, change(o));
    });
  }
}

export class MemoryOperatorSessionStore implements OperatorSessionStore {
  constructor(private readonly db: MemoryOperatorDatabase) {}

  insert(session: NewOperatorSession, tx?: Tx): Promise<void> {
    return this.db.run(tx, (s) => {
      if (s.sessions.has(session.tokenHash)) throw new CaError("conflict", "operator session already exists");
      if (!s.operators.has(session.operatorId)) throw new CaError("not-found", "operator session refers to a missing record");
      s.sessions.set(session.tokenHash, { ...session, createdAt: d(session.createdAt), lastSeenAt: d(session.createdAt), endedAt: null });
    });
  }

  get(tokenHash: string, tx?: Tx): Promise<OperatorSessionRecord | undefined> {
    return this.db.run(tx, (s) => {
      const x = s.sessions.get(tokenHash);
      return x && copySession(x);
    });
  }

  touch(tokenHash: string, at: Date, idleSince: Date, tx?: Tx): Promise<boolean> {
    return this.db.run(tx, (s) => {
      const x = s.sessions.get(tokenHash);
      if (!x || x.endedAt !== null || x.lastSeenAt < idleSince) return false;
      s.sessions.set(tokenHash, { ...x, lastSeenAt: at > x.lastSeenAt ? d(at) : x.lastSeenAt });
      return true;
    });
  }

  end(tokenHash: string, at: Date, tx?: Tx): Promise<boolean> {
    return this.db.run(tx, (s) => {
      const x = s.sessions.get(tokenHash);
      if (!x || x.endedAt !== null) return false;
      s.sessions.set(tokenHash, { ...x, endedAt: d(at) });
      return true;
    });
  }

  endAllForOperator(operatorId: string, at: Date, keep?: string, tx?: Tx): Promise<number> {
    return this.endWhere(tx, at, (x) => x.operatorId === operatorId && x.tokenHash !== keep);
  }

  endAllOnTerminal(terminalFingerprint: string, at: Date, tx?: Tx): Promise<number> {
    return this.endWhere(tx, at, (x) => x.terminalFingerprint === terminalFingerprint);
  }

  private endWhere(tx: Tx | undefined, at: Date, match: (x: OperatorSessionRecord) => boolean): Promise<number> {
    return this.db.run(tx, (s) => {
      let n = 0;
      for (const x of s.sessions.values()) {
        if (x.endedAt === null && match(x)) {
          s.sessions.set(x.tokenHash, { ...x, endedAt: d(at) });
          n++;
        }
      }
      return n;
    });
  }
}

export class MemoryTerminalStore implements TerminalStore {
  constructor(private readonly db: MemoryOperatorDatabase) {}

  enrol(t: NewTerminal, tx?: Tx): Promise<void> {
    return this.db.run(tx, (s) => {
      const existing = s.terminals.get(t.terminalId);
      if (existing && existing.status === "active") throw new CaError("conflict", "terminal is already enrolled and active: revoke it first");
      for (const other of s.terminals.values()) {
        if (other.clientCertSerial === t.clientCertSerial) throw new CaError("conflict", "terminal certificate serial already exists");
      }
      s.terminals.set(t.terminalId, copyTerminal({ ...t, status: "active", revokedAt: null }));
    });
  }

  get(terminalId: string, tx?: Tx): Promise<TerminalRecord | undefined> {
    return this.db.run(tx, (s) => {
      const t = s.terminals.get(terminalId);
      return t && copyTerminal(t);
    });
  }

  getBySerial(clientCertSerial: string, tx?: Tx): Promise<TerminalRecord | undefined> {
    return this.db.run(tx, (s) => {
      const t = [...s.terminals.values()].find((x) => x.clientCertSerial === clientCertSerial);
      return t && copyTerminal(t);
    });
  }

  list(tx?: Tx): Promise<TerminalRecord[]> {
    return this.db.run(tx, (s) => [...s.terminals.values()].sort((a, b) => (a.terminalId < b.terminalId ? -1 : 1)).map(copyTerminal));
  }

  revoke(terminalId: string, at: Date, tx?: Tx): Promise<boolean> {
    return this.db.run(tx, (s) => {
      const t = s.terminals.get(terminalId);
      if (!t || t.status !== "active") return false;
      s.terminals.set(terminalId, { ...t, status: "revoked", revokedAt: d(at) });
      return true;
    });
  }

  setOperatingHours(terminalId: string, schedule: OperatingSchedule | null, tx?: Tx): Promise<void> {
    return this.db.run(tx, (s) => {
      const t = s.terminals.get(terminalId);
      if (!t) throw new CaError("not-found", "terminal not found");
      s.terminals.set(terminalId, { ...t, operatingHours: copySchedule(schedule) });
    });
  }
}

/** A fresh memory database with the operator, session, terminal and audit stores over one TransactionRunner. */
export function createMemoryOperatorStores(base: MemoryDatabase = new MemoryDatabase()): {
  transactions: MemoryOperatorDatabase;
  operators: MemoryOperatorStore;
  sessions: MemoryOperatorSessionStore;
  terminals: MemoryTerminalStore;
  audit: MemoryAuditStore;
} {
  const db = new MemoryOperatorDatabase(base);
  return {
    transactions: db,
    operators: new MemoryOperatorStore(db),
    sessions: new MemoryOperatorSessionStore(db),
    terminals: new MemoryTerminalStore(db),
    audit: new MemoryAuditStore(base),
  };
}
