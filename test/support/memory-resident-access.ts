import type { ResidentMunicipalities } from "../../ca/access/resident-access.js";
import type { RevocationWindowStore } from "../../ca/revocation/revocation-window.js";
import type { AuditEntry } from "../../ca/types.js";

/** ResidentMunicipalities in memory: residentCode → municipality (null: on file without one). */
export class MemoryResidentMunicipalities implements ResidentMunicipalities {
  readonly byResident = new Map<string, string | null>();

  async currentMunicipality(residentCode: string): Promise<string | null | undefined> {
    return this.byResident.get(residentCode);
  }

  async setMunicipality(residentCode: string, municipalityCode: string): Promise<void> {
    if (this.byResident.has(residentCode)) this.byResident.set(residentCode, municipalityCode);
  }
}

/** The revocation window counted from an in-memory audit log, as db/revocation-window-store.ts does in SQL. */
export function memoryRevocationWindow(entries: () => readonly AuditEntry[]): RevocationWindowStore {
  return {
    async lockAndCount(actor: string, since: Date): Promise<number> {
      let n = 0;
      for (const e of entries()) {
        if (e.actor !== actor || e.at < since || e.detail.approvalId !== undefined) continue;
        if (e.action === "certificate.revoked") n += 1;
        if (e.action === "certificate.held") n += Array.isArray(e.detail.serials) ? e.detail.serials.length : 0;
      }
      return n;
    },
  };
}
