import { CaError } from "../ca/errors.js";
import type { SignatureAlgorithmName } from "../ca/ports.js";
import type { CaGenerationStore, Tx } from "../ca/stores.js";
import type { CaGeneration, CaId, CaKind, CaStatus } from "../ca/types.js";
import { bytesFromColumn, bytesToParameter, dateFromColumn, nullableBytesToParameter, requiredBytesFromColumn } from "./column-values.js";
import type { Database } from "./database.js";
import { mapConstraintErrors } from "./database-errors.js";

const TABLE = "ca_generations";

/** CaGenerationStore on PostgreSQL / PGlite (table ca_generations, migration 0001). */
export class KnexCaGenerationStore implements CaGenerationStore {
  constructor(private readonly db: Database) {}

  async list(tx?: Tx): Promise<CaGeneration[]> {
    const rows = await this.db.executor(tx)(TABLE).select("*").orderBy([{ column: "kind" }, { column: "generation" }]);
    return rows.map(caGenerationFromRow);
  }

  async get(id: CaId, tx?: Tx): Promise<CaGeneration | undefined> {
    const row = await this.db.executor(tx)(TABLE).where({ id }).first();
    return row === undefined ? undefined : caGenerationFromRow(row);
  }

  async active(kind: CaKind, tx?: Tx): Promise<CaGeneration | undefined> {
    const row = await this.db.executor(tx)(TABLE).where({ kind, status: "active" }).orderBy("generation", "desc").first();
    return row === undefined ? undefined : caGenerationFromRow(row);
  }

  async insert(ca: CaGeneration, tx?: Tx): Promise<void> {
    const k = this.db.executor(tx);
    await mapConstraintErrors("CA generation", () =>
      k(TABLE).insert({
        id: ca.id,
        kind: ca.kind,
        generation: ca.generation,
        key_algorithm: ca.keyAlgorithm,
        signature_algorithm: ca.signatureAlgorithm,
        key_uri: ca.keyUri,
        certificate: bytesToParameter(ca.certificate),
        serial_prefix: ca.serialPrefix,
        partition_count: ca.partitionCount,
        status: ca.status,
        ocsp_responder_certificate: nullableBytesToParameter(ca.ocspResponderCertificate),
        ocsp_responder_key_uri: ca.ocspResponderKeyUri,
        created_at: ca.createdAt,
      }),
    );
  }

  async setStatus(id: CaId, status: CaStatus, tx?: Tx): Promise<void> {
    const updated = await this.db.executor(tx)(TABLE).where({ id }).update({ status }, ["id"]);
    if (updated.length === 0) throw new CaError("not-found", "CA generation not found");
  }

  async setOcspResponder(id: CaId, certificate: Uint8Array, keyUri: string, tx?: Tx): Promise<void> {
    const updated = await this.db
      .executor(tx)(TABLE)
      .where({ id })
      .update({ ocsp_responder_certificate: bytesToParameter(certificate), ocsp_responder_key_uri: keyUri }, ["id"]);
    if (updated.length === 0) throw new CaError("not-found", "CA generation not found");
  }
}

/** Row → domain record. */
function caGenerationFromRow(row: Record<string, unknown>): CaGeneration {
  return {
    id: row.id as CaId,
    kind: row.kind as CaKind,
    generation: row.generation as number,
    keyAlgorithm: row.key_algorithm as string,
    signatureAlgorithm: row.signature_algorithm as SignatureAlgorithmName,
    keyUri: row.key_uri as string,
    certificate: requiredBytesFromColumn(row.certificate),
    serialPrefix: row.serial_prefix as number,
    partitionCount: row.partition_count as number,
    status: row.status as CaStatus,
    ocspResponderCertificate: bytesFromColumn(row.ocsp_responder_certificate),
    ocspResponderKeyUri: (row.ocsp_responder_key_uri as string | null) ?? null,
    createdAt: dateFromColumn(row.created_at),
  };
}
