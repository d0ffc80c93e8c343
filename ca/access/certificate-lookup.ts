import { CaError } from "../errors.js";
import { actorName, type Actor } from "../operators/operator-principal.js";
import type { Clock } from "../ports.js";
import { assertMayActOnCertificate, assertScopeFitsActor, auditDenials, scopeDetail, type AccessScope, type ResidentMunicipalities } from "./resident-access.js";
import type { AuditStore, CertificateStore } from "../stores.js";
import type { CertificateRecord } from "../types.js";

export interface CertificateLookupDeps {
  readonly certificates: Pick<CertificateStore, "get">;
  readonly residents: Pick<ResidentMunicipalities, "currentMunicipality">;
  readonly audit: Pick<AuditStore, "append">;
  readonly clock: Clock;
}

/**
 * `GET /v1/certificates/{serial}` in the core (docs/api.md §4): the record carries the resident's name,
 * address and date of birth, so the object-level policy decides (ca/access/resident-access.ts). A counter
 * terminal reads only certificates of its municipality's residents; a serial of another municipality
 * answers exactly as an unknown one (404) and is audited as a denial. A CA-side read states its
 * purpose. Every answered read is recorded (告示334号 第4-4(6), (7); docs/domain.md §6: operation history).
 */
export class CertificateLookup {
  constructor(private readonly deps: CertificateLookupDeps) {}

  async read(actor: Actor, scope: AccessScope, serial: string): Promise<CertificateRecord> {
    assertScopeFitsActor(actor, scope);
    return auditDenials(this.deps, actor, scope, async () => {
      const cert = await this.deps.certificates.get(serial);
      if (!cert) throw new CaError("not-found", "no such certificate");
      await assertMayActOnCertificate(this.deps.residents, scope, cert, "read");
      await this.deps.audit.append({
        at: this.deps.clock.now(),
        action: "certificate.read",
        actor: actorName(actor),
        subject: `certificate:${serial}`,
        outcome: "success",
        detail: { ...scopeDetail(scope), residentCode: cert.residentCode },
      });
      return cert;
    });
  }
}
