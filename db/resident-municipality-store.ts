import type { ResidentMunicipalities } from "../ca/access/resident-access.js";
import type { Tx } from "../ca/stores.js";
import type { Database } from "./database.js";

/**
 * ResidentMunicipalities on PostgreSQL / PGlite: residents.municipality_code (migration 0017), the
 * resident's current municipality as the CA's record on file knows it (ca/access/resident-access.ts).
 */
export class KnexResidentMunicipalityStore implements ResidentMunicipalities {
  constructor(private readonly db: Database) {}

  async currentMunicipality(residentCode: string, tx?: Tx): Promise<string | null | undefined> {
    const row = (await this.db.executor(tx)("residents").where({ resident_code: residentCode }).first("municipality_code")) as { municipality_code: string | null } | undefined;
    return row === undefined ? undefined : row.municipality_code;
  }

  async setMunicipality(residentCode: string, municipalityCode: string, tx?: Tx): Promise<void> {
    await this.db.executor(tx)("residents").where({ resident_code: residentCode }).update({ municipality_code: municipalityCode });
  }
}
