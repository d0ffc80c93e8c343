import type { AuditCheckpoint, AuditCheckpointStore, CheckpointKind, NewAuditCheckpoint } from "../ca/audit/audit-checkpoint.js";
import type { SignatureAlgorithmName } from "../ca/ports.js";
import type { Tx } from "../ca/stores.js";
import { bytesToParameter, dateFromColumn, requiredBytesFromColumn } from "./column-values.js";
import type { Database } from "./database.js";

type Row = Record<string, unknown>;
const TABLE = "audit_checkpoints";

/** AuditCheckpointStore on PostgreSQL / PGlite (table audit_checkpoints, migration 0013). */
export class KnexAuditCheckpointStore implements AuditCheckpointStore {
  constructor(private readonly db: Database) {}

  async insert(c: NewAuditCheckpoint, tx?: Tx): Promise<AuditCheckpoint> {
    const [row] = (await this.db.executor(tx)(TABLE).insert(
      {
        seq: c.seq,
        hash: c.hash,
        at: c.at,
        kind: c.kind,
        key_label: c.keyLabel,
        algorithm: c.algorithm,
        public_key: bytesToParameter(c.publicKey),
        signature: bytesToParameter(c.signature),
      },
      ["id"],
    )) as Row[];
    return { ...c, id: Number(row!.id) };
  }

  async list(afterId: number, limit: number, tx?: Tx): Promise<AuditCheckpoint[]> {
    const rows = (await this.db.executor(tx)(TABLE).where("id", ">", afterId).orderBy("id").limit(limit)) as Row[];
    return rows.map(checkpointFromRow);
  }

  async latest(tx?: Tx): Promise<AuditCheckpoint | undefined> {
    const row = (await this.db.executor(tx)(TABLE).orderBy("id", "desc").first()) as Row | undefined;
    return row ? checkpointFromRow(row) : undefined;
  }
}

function checkpointFromRow(row: Row): AuditCheckpoint {
  return {
    id: Number(row.id),
    seq: Number(row.seq),
    hash: String(row.hash),
    at: dateFromColumn(row.at),
    kind: String(row.kind) as CheckpointKind,
    keyLabel: String(row.key_label),
    algorithm: String(row.algorithm) as SignatureAlgorithmName,
    publicKey: requiredBytesFromColumn(row.public_key),
    signature: requiredBytesFromColumn(row.signature),
  };
}
