import { createPublicKey, verify as verifySignature } from "node:crypto";
import { signatureHash } from "../profiles/algorithms.js";
import { CaError } from "../errors.js";
import type { Clock, SignatureAlgorithmName, Signer } from "../ports.js";
import type { AuditStore, TransactionRunner, Tx } from "../stores.js";

/**
 * Signed checkpoints of the audit hash chain (告示334号 第4-4(6): operation history kept and auditable;
 * docs/domain.md §6: 7 years). A checkpoint is an HSM signature over (seq, hash) of one entry: whoever can
 * rewrite the table (and recompute every hash after an edit) still cannot produce a checkpoint that
 * matches, because the key never leaves the HSM (docs/design.md invariant 5). Checkpoints are made
 * periodically, on demand, and at every retention cut, where they become the anchor the remaining
 * chain is verified from.
 */
export type CheckpointKind = "periodic" | "manual" | "purge-cut";

export interface NewAuditCheckpoint {
  /** The entry the checkpoint vouches for. */
  readonly seq: number;
  /** That entry's hash. */
  readonly hash: string;
  readonly at: Date;
  readonly kind: CheckpointKind;
  /** HSM label of the signing key. */
  readonly keyLabel: string;
  readonly algorithm: SignatureAlgorithmName;
  /** DER SubjectPublicKeyInfo of the signing key. */
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
}

export interface AuditCheckpoint extends NewAuditCheckpoint {
  readonly id: number;
}

/** Store port (db/audit-checkpoint-store.ts). */
export interface AuditCheckpointStore {
  insert(checkpoint: NewAuditCheckpoint, tx?: Tx): Promise<AuditCheckpoint>;
  /** Checkpoints with id > afterId, in id order, at most `limit`. */
  list(afterId: number, limit: number, tx?: Tx): Promise<AuditCheckpoint[]>;
  /** The newest checkpoint (highest id), if any. */
  latest(tx?: Tx): Promise<AuditCheckpoint | undefined>;
}

/** The chain head: the last appended seq and hash (seq 0 = empty log). */
export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
}

/**
 * The bytes a checkpoint signature covers: a fixed context string (so the key's signatures cannot be
 * confused with anything else it might sign) and the canonical fields.
 */
export function checkpointMessage(c: Pick<NewAuditCheckpoint, "seq" | "hash" | "at" | "kind">): Uint8Array {
  return new TextEncoder().encode(`jpki-ca audit checkpoint v1\nseq=${c.seq}\nhash=${c.hash}\nat=${c.at.toISOString()}\nkind=${c.kind}\n`);
}

/** Whether the checkpoint's signature verifies under its own public key (node:crypto, no HSM needed). */
export function checkpointSignatureValid(c: NewAuditCheckpoint): boolean {
  try {
    const key = createPublicKey({ key: Buffer.from(c.publicKey), format: "der", type: "spki" });
    return verifySignature(signatureHash[c.algorithm], checkpointMessage(c), key, c.signature);
  } catch {
    return false;
  }
}

export interface AuditCheckpointerDeps {
  readonly signer: Signer;
  readonly keyLabel: string;
  readonly store: AuditCheckpointStore;
  readonly audit: Pick<AuditStore, "append">;
  /** Reads the chain head and one entry's hash. */
  readonly head: () => Promise<AuditHead>;
  readonly transactions: TransactionRunner;
  readonly clock: Clock;
}

/** Makes checkpoints; `checkpointIfDue` is what the periodic timer calls. */
export class AuditCheckpointer {
  constructor(private readonly deps: AuditCheckpointerDeps) {}

  /** The public key checkpoints are signed with (the verifier's trust anchor). */
  get publicKey(): Uint8Array {
    return this.deps.signer.publicKey;
  }

  /**
   * Signs (seq, hash) — the head unless given — and records it, with an "audit.checkpoint" entry after
   * it. Returns undefined for an empty log.
   */
  async checkpoint(kind: CheckpointKind, actor: string, at?: AuditHead): Promise<AuditCheckpoint | undefined> {
    const target = at ?? (await this.deps.head());
    if (target.seq === 0) return undefined;
    if (!Number.isSafeInteger(target.seq) || target.seq < 1 || !/^[0-9a-f]{64}$/.test(target.hash)) throw new CaError("internal", "checkpoint target is not an audit entry");
    const now = this.deps.clock.now();
    const unsigned = { seq: target.seq, hash: target.hash, at: now, kind };
    const signature = await this.deps.signer.sign(checkpointMessage(unsigned));
    const checkpoint: NewAuditCheckpoint = { ...unsigned, keyLabel: this.deps.keyLabel, algorithm: this.deps.signer.algorithm, publicKey: this.deps.signer.publicKey, signature };
    if (!checkpointSignatureValid(checkpoint)) throw new CaError("internal", "the checkpoint key produced a signature that does not verify");
    return this.deps.transactions.transaction(async (tx) => {
      const stored = await this.deps.store.insert(checkpoint, tx);
      await this.deps.audit.append({ at: now, action: "audit.checkpoint", actor, subject: `audit:${target.seq}`, outcome: "success", detail: { checkpointId: stored.id, seq: target.seq, hash: target.hash, kind, keyLabel: this.deps.keyLabel } }, tx);
      return stored;
    });
  }

  /**
   * A periodic checkpoint when the newest one is older than `intervalMs` and more than its own
   * "audit.checkpoint" entry was appended since. Returns the checkpoint made, if any.
   */
  async checkpointIfDue(intervalMs: number): Promise<AuditCheckpoint | undefined> {
    const latest = await this.deps.store.latest();
    const head = await this.deps.head();
    if (latest !== undefined) {
      if (this.deps.clock.now().getTime() - latest.at.getTime() < intervalMs) return undefined;
      // Only the previous checkpoint's own entry since then: nothing new to vouch for.
      if (head.seq <= latest.seq + 1) return undefined;
    }
    return this.checkpoint("periodic", "system", head);
  }
}
