import type { ClientCertificateRecord, ClientCertificateStatus, ClientCertificateStore, NewClientCertificate, RegisteredClientKind } from "../ca/operators/client-register.js";
import { CaError } from "../ca/errors.js";
import type { Tx } from "../ca/stores.js";
import { dateFromColumn, nullableDateFromColumn } from "./column-values.js";
import type { Database } from "./database.js";
import { mapConstraintErrors } from "./database-errors.js";

const TABLE = "client_certificates";

/**
 * ClientCertificateStore on PostgreSQL / PGlite (table client_certificates, migration 0018). Registering
 * a revoked (kind, id) again replaces its row in one `INSERT … ON CONFLICT DO UPDATE … WHERE status =
 * 'revoked'`; the history stays in the audit log.
 */
export class KnexClientCertificateStore implements ClientCertificateStore {
  constructor(private readonly db: Database) {}

  async register(r: NewClientCertificate, tx?: Tx): Promise<void> {
    const row = {
      kind: r.kind,
      client_id: r.clientId,
      client_cert_serial: r.clientCertSerial,
      client_cert_fingerprint: r.clientCertFingerprint,
      status: "active",
      description: r.description,
      enrolled_at: r.enrolledAt,
      revoked_at: null,
    };
    const written = await mapConstraintErrors("client certificate", () =>
      this.db
        .executor(tx)(TABLE)
        .insert(row)
        .onConflict(["kind", "client_id"])
        .merge()
        .where(`${TABLE}.status`, "revoked")
        .returning(["client_id"]),
    );
    if (written.length === 0) throw new CaError("conflict", "this client certificate id is registered and active: revoke it first");
  }

  async get(kind: RegisteredClientKind, clientId: string, tx?: Tx): Promise<ClientCertificateRecord | undefined> {
    const row = await this.db.executor(tx)(TABLE).where({ kind, client_id: clientId }).first();
    return row === undefined ? undefined : fromRow(row);
  }

  async list(kind?: RegisteredClientKind, tx?: Tx): Promise<ClientCertificateRecord[]> {
    const q = this.db.executor(tx)(TABLE).orderBy(["kind", "client_id"]);
    const rows = await (kind === undefined ? q : q.where({ kind }));
    return rows.map(fromRow);
  }

  async revoke(kind: RegisteredClientKind, clientId: string, at: Date, tx?: Tx): Promise<boolean> {
    const rows = await this.db.executor(tx)(TABLE).where({ kind, client_id: clientId, status: "active" }).update({ status: "revoked", revoked_at: at }, ["client_id"]);
    return rows.length > 0;
  }
}

function fromRow(row: Record<string, unknown>): ClientCertificateRecord {
  return {
    kind: row.kind as RegisteredClientKind,
    clientId: row.client_id as string,
    clientCertSerial: row.client_cert_serial as string,
    clientCertFingerprint: row.client_cert_fingerprint as string,
    status: row.status as ClientCertificateStatus,
    description: (row.description as string | null) ?? null,
    enrolledAt: dateFromColumn(row.enrolled_at),
    revokedAt: nullableDateFromColumn(row.revoked_at),
  };
}
