import { EndEntityIssuer } from "../../ca/issuance/end-entity-issuer.js";
import { endEntityProfile, type EndEntityProfile } from "../../ca/profiles/end-entity-profile.js";
import { CaError } from "../../ca/errors.js";
import { issuingAuthority, type AuthorityResolver, type IssuingAuthority } from "../../ca/issuance/issuing-authority.js";
import type { MunicipalityNames } from "../../ca/residents/municipality.js";
import type { Signer } from "../../ca/ports.js";
import type { CaGeneration, CaId, CaKind } from "../../ca/types.js";
import { parseIssuerCertificate } from "../../ca/x509/issuer-certificate.js";

/**
 * Builds one IssuingAuthority per active CA generation: the end-entity profile (data), the DER template,
 * and the HSM signer whose key was checked against the CA certificate at start-up.
 */
export function buildAuthorities(
  generations: readonly CaGeneration[],
  signers: ReadonlyMap<CaId, Signer>,
  options: { publicBaseUrl: string; municipalityNames?: MunicipalityNames; profiles?: Partial<Record<CaKind, EndEntityProfile>> },
): AuthorityResolver {
  const byId = new Map<string, IssuingAuthority>();
  const active = new Map<CaKind, IssuingAuthority>();
  for (const ca of generations) {
    const signer = signers.get(ca.id);
    if (!signer) continue;
    const profile = options.profiles?.[ca.kind] ?? endEntityProfile(ca.kind, { publicBaseUrl: options.publicBaseUrl });
    const issuer = EndEntityIssuer.create({ profile, caId: ca.id, caCertificate: parseIssuerCertificate(ca.certificate), signatureAlgorithm: ca.signatureAlgorithm, partitionCount: ca.partitionCount });
    const authority = issuingAuthority(ca, issuer, signer, options.municipalityNames);
    byId.set(ca.id, authority);
    const current = active.get(ca.kind);
    if (ca.status === "active" && (!current || current.ca.generation < ca.generation)) active.set(ca.kind, authority);
  }
  return {
    active: (kind) => {
      const a = active.get(kind);
      if (!a) throw new CaError("unavailable", `no active ${kind} CA`);
      return a;
    },
    byCaId: (caId) => byId.get(caId),
  };
}
