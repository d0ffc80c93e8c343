import type { CertificateLink, CertificateLinkStore, LinkType } from "../ca/linkage/certificate-links.js";
import type { Tx } from "../ca/stores.js";
import { dateFromColumn } from "./column-values.js";
import type { Database } from "./database.js";

const TABLE = "certificate_links";
const ORDER = [{ column: "created_at" }, { column: "from_serial" }, { column: "to_serial" }];

/**
 * CertificateLinkStore on PostgreSQL / PGlite (table certificate_links, migration 0026). `from` reads the
 * primary key (from_serial, link, to_serial), `to` the index certificate_links_to_idx (to_serial, link);
 * test/integration/db/certificate-links.test.ts proves both plans. A link already recorded is ignored.
 */
export class KnexCertificateLinkStore implements CertificateLinkStore {
  constructor(private readonly db: Database) {}

  async insertMany(links: readonly CertificateLink[], tx: Tx): Promise<void> {
    if (links.length === 0) return;
    await this.db.executor(tx)(TABLE).insert(links.map(linkRow)).onConflict(["from_serial", "link", "to_serial"]).ignore();
  }

  async from(serial: string, link: LinkType, tx?: Tx): Promise<CertificateLink[]> {
    const rows = await this.db.executor(tx)(TABLE).where({ from_serial: serial, link }).orderBy(ORDER);
    return rows.map(linkFromRow);
  }

  async to(serial: string, link: LinkType, tx?: Tx): Promise<CertificateLink[]> {
    const rows = await this.db.executor(tx)(TABLE).where({ to_serial: serial, link }).orderBy(ORDER);
    return rows.map(linkFromRow);
  }

  async ofResident(residentCode: string, tx?: Tx): Promise<CertificateLink[]> {
    const rows = await this.db.executor(tx)(TABLE).where({ resident_code: residentCode }).orderBy(ORDER);
    return rows.map(linkFromRow);
  }
}

/** Domain link → row. */
export function linkRow(l: CertificateLink): Record<string, unknown> {
  return { from_serial: l.fromSerial, to_serial: l.toSerial, link: l.link, resident_code: l.residentCode, created_at: l.createdAt };
}

/** Row → domain link. */
export function linkFromRow(row: Record<string, unknown>): CertificateLink {
  return {
    fromSerial: row.from_serial as string,
    toSerial: row.to_serial as string,
    link: row.link as LinkType,
    residentCode: (row.resident_code as string | null) ?? null,
    createdAt: dateFromColumn(row.created_at),
  };
}
