import type { CertificateReleaseStore, ReleasedEntry, ReleasedEntryQuery, ReleasedEntrySource } from "../ca/revocation/phone-cascade.js";
import { PHONE_HOLD_LIFTABLE } from "../ca/revocation/phone-cascade.js";
import type { Tx } from "../ca/stores.js";
import { dateFromColumn } from "./column-values.js";
import type { Database } from "./database.js";

/**
 * Lifting a phone user-auth hold on PostgreSQL / PGlite (table certificates, migrations 0002, 0026, 0028):
 * one statement changes the status, clears the revocation columns and raises `status_version`, which
 * OCSP compares before the status rank (ca/revocation/ocsp-ports.ts `isNotOlderThan`). The lifted
 * certificates of a partition since a delta CRL's base are read through `certificates_released_idx`
 * (partial: only rows ever lifted), for their removeFromCRL entries (crl/released-entries.ts).
 */
export class KnexCertificateReleaseStore implements CertificateReleaseStore, ReleasedEntrySource {
  constructor(private readonly db: Database) {}

  async release(serial: string, at: Date, tx: Tx): Promise<boolean> {
    const k = this.db.executor(tx);
    const updated = (await k("certificates")
      .where({ serial, status: PHONE_HOLD_LIFTABLE.status, device: PHONE_HOLD_LIFTABLE.device, kind: PHONE_HOLD_LIFTABLE.kind })
      .update(
        {
          status: "valid",
          revocation_reason: null,
          revoked_at: null,
          invalidity_date: null,
          status_version: k.raw("status_version + 1"),
          released_at: at,
          updated_at: k.fn.now(),
        },
        ["serial"],
      )) as unknown[];
    return updated.length > 0;
  }

  async releasedEntries(query: ReleasedEntryQuery): Promise<ReleasedEntry[]> {
    const q = this.db
      .executor()("certificates")
      .select("serial", "released_at")
      .where({ ca_id: query.caId, partition: query.partition, status: "valid" })
      .whereNotNull("released_at")
      // DB time, like the revoked entries' `changedAfter` (ca/revocation/crl-ports.ts): the row's last change is the lift.
      .andWhere("updated_at", ">", query.releasedAfter)
      .andWhere("not_after", ">=", query.notAfterFloor);
    if (query.afterSerial !== null) q.andWhere("serial", ">", query.afterSerial);
    const rows = (await q.orderBy("serial").limit(query.limit)) as Array<Record<string, unknown>>;
    return rows.map((r) => ({ serial: r.serial as string, releasedAt: dateFromColumn(r.released_at) }));
  }
}
