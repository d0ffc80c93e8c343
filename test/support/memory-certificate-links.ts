import type { CertificateLink, CertificateLinkStore, LinkType } from "../../ca/linkage/certificate-links.js";
import type { Tx } from "../../ca/stores.js";
import type { MemoryDatabase } from "./memory-stores.js";

/**
 * CertificateLinkStore in memory over a MemoryDatabase (rolls back with its transactions). Passes the
 * same contract suite as db/certificate-link-store.ts (test/contract/certificate-links.ts).
 */
export class MemoryCertificateLinkStore implements CertificateLinkStore {
  constructor(private readonly db: MemoryDatabase) {}

  insertMany(links: readonly CertificateLink[], tx: Tx): Promise<void> {
    return this.db.run(tx, (s) => void insertLinks(s.links, links));
  }

  from(serial: string, link: LinkType, tx?: Tx): Promise<CertificateLink[]> {
    return this.select(tx, (l) => l.fromSerial === serial && l.link === link);
  }

  to(serial: string, link: LinkType, tx?: Tx): Promise<CertificateLink[]> {
    return this.select(tx, (l) => l.toSerial === serial && l.link === link);
  }

  ofResident(residentCode: string, tx?: Tx): Promise<CertificateLink[]> {
    return this.select(tx, (l) => l.residentCode === residentCode);
  }

  private select(tx: Tx | undefined, match: (l: CertificateLink) => boolean): Promise<CertificateLink[]> {
    return this.db.run(tx, (s) => s.links.filter(match).map(copyLink).sort(linkOrder));
  }
}

/** Appends the links not yet recorded (primary key from, link, to); returns those appended. */
export function insertLinks(into: CertificateLink[], links: readonly CertificateLink[]): CertificateLink[] {
  const added: CertificateLink[] = [];
  for (const l of links) {
    if (into.some((x) => x.fromSerial === l.fromSerial && x.link === l.link && x.toSerial === l.toSerial)) continue;
    into.push(copyLink(l));
    added.push(copyLink(l));
  }
  return added;
}

const copyLink = (l: CertificateLink): CertificateLink => ({ ...l, createdAt: new Date(l.createdAt) });
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** The stores' order: created, then from and to serial. */
const linkOrder = (a: CertificateLink, b: CertificateLink): number => a.createdAt.getTime() - b.createdAt.getTime() || cmp(a.fromSerial, b.fromSerial) || cmp(a.toSerial, b.toSerial);
