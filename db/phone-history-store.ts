import type { LinkedCertificate } from "../ca/linkage/certificate-links.js";
import type { PhoneHistory } from "../ca/phone/phone-issuance-service.js";
import type { Tx } from "../ca/stores.js";
import type { Database } from "./database.js";

/**
 * The resident's phone certificates ever signed, whatever their status now (docs/linkage.md: a new phone
 * after a lost, revoked one still links to it). Heads of chains (no successor link yet) last, then by
 * creation, as `linksOfIssuance` expects. Index certificates_resident_code_idx.
 */
export class KnexPhoneHistory implements PhoneHistory {
  constructor(private readonly db: Database) {}

  async signedPhoneCertificates(residentCode: string, tx?: Tx): Promise<LinkedCertificate[]> {
    const rows = (await this.db
      .executor(tx)("certificates as c")
      .where({ "c.resident_code": residentCode, "c.device": "phone" })
      .whereNotNull("c.der")
      .select("c.serial", "c.kind", "c.device")
      .orderByRaw("not exists (select 1 from certificate_links l where l.from_serial = c.serial and l.link = 'successor'), c.created_at, c.serial")) as Array<{ serial: string; kind: LinkedCertificate["kind"]; device: LinkedCertificate["device"] }>;
    return rows.map((r) => ({ serial: r.serial, kind: r.kind, device: r.device }));
  }
}
