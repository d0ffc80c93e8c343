import type { ApprovalChange, ApprovalListFilter, ApprovalRecord, ApprovalStatus, ApprovalStore } from "../../../ca/approvals/approval.js";
import { CaError } from "../../../ca/errors.js";
import type { Tx } from "../../../ca/stores.js";
import type { MemoryDatabase } from "../../support/memory-stores.js";

const copy = (r: ApprovalRecord): ApprovalRecord => JSON.parse(JSON.stringify(r), (k, v) => (typeof v === "string" && /At$/.test(k) ? new Date(v) : v)) as ApprovalRecord;

/** ApprovalStore double for unit tests (compare-and-set like the knex adapter; no rollback of its own rows). */
export class MemoryApprovalStore implements ApprovalStore {
  readonly rows = new Map<string, ApprovalRecord>();
  constructor(private readonly db: MemoryDatabase) {}

  insert(r: ApprovalRecord, tx?: Tx): Promise<void> {
    return this.db.run(tx, () => {
      if (this.rows.has(r.id)) throw new CaError("conflict", "approval already exists");
      this.rows.set(r.id, copy(r));
    });
  }
  get(id: string, tx?: Tx): Promise<ApprovalRecord | undefined> {
    return this.db.run(tx, () => {
      const r = this.rows.get(id);
      return r && copy(r);
    });
  }
  list(f: ApprovalListFilter, tx?: Tx): Promise<ApprovalRecord[]> {
    return this.db.run(tx, () =>
      [...this.rows.values()]
        .filter((r) => (!f.status || r.status === f.status) && (!f.kind || r.kind === f.kind))
        .sort((a, b) => b.requestedAt.getTime() - a.requestedAt.getTime())
        .slice(0, f.limit)
        .map(copy),
    );
  }
  transition(id: string, from: ApprovalStatus, change: ApprovalChange, tx?: Tx): Promise<boolean> {
    return this.db.run(tx, () => {
      const r = this.rows.get(id);
      if (!r || r.status !== from) return false;
      const { handover, ...rest } = change;
      if (handover !== undefined) this.handovers.set(id, handover);
      this.rows.set(id, { ...r, ...rest } as ApprovalRecord);
      return true;
    });
  }
  listExpired(now: Date, limit: number, tx?: Tx): Promise<ApprovalRecord[]> {
    return this.db.run(tx, () => [...this.rows.values()].filter((r) => r.status === "pending" && r.expiresAt < now).slice(0, limit).map(copy));
  }
  /** Handover parts, kept beside the rows (never part of a record, as in the knex adapter). */
  readonly handovers = new Map<string, string>();
  takeHandover(id: string, tx?: Tx): Promise<string | undefined> {
    return this.db.run(tx, () => {
      const h = this.handovers.get(id);
      this.handovers.delete(id);
      return h;
    });
  }
  markConsumed(id: string, at: Date, tx?: Tx): Promise<boolean> {
    return this.db.run(tx, () => {
      const r = this.rows.get(id);
      if (!r || r.status !== "executed" || r.consumedAt !== null) return false;
      this.rows.set(id, { ...r, consumedAt: at });
      return true;
    });
  }
}
