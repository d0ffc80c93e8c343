import { CaError } from "../errors.js";
import { EndEntityIssuer } from "../issuance/end-entity-issuer.js";
import { issuingAuthority, type AuthorityResolver, type IssuingAuthority } from "../issuance/issuing-authority.js";
import { validateEndEntityProfile, type EndEntityProfile } from "../profiles/end-entity-profile.js";
import type { MunicipalityNames } from "../residents/municipality.js";
import type { CaKind } from "../types.js";
import type { PhoneSettings } from "./phone-settings.js";

/**
 * The phone certificates are issued by the same CA generations as the card's (same key, CRL partitions and
 * OCSP: docs/phone.md), with their own profile data: the card profile of the kind with the phone's policy
 * OID and the subject marker before the CN ([U], ca/phone/phone-settings.ts).
 */
export function phoneProfile(card: EndEntityProfile, settings: PhoneSettings): EndEntityProfile {
  const kind: CaKind = card.kind;
  return validateEndEntityProfile({ ...card, policy: { ...card.policy, oid: settings.policyOids[kind] }, subjectMarker: settings.subjectMarker }, `phone.profile.${kind}`);
}

/**
 * An AuthorityResolver for phone certificates over the card's: for a card authority (its CA generation,
 * profile and HSM key), the phone template of the same generation, built once per generation. Signing
 * goes through the card authority's `sign`, which signs any TBS with the generation's key and verifies
 * the result against the CA certificate (docs/design.md invariant 1) — the profile plays no part in it.
 */
export function phoneAuthorities(
  card: AuthorityResolver,
  cardProfileOf: (authority: IssuingAuthority) => EndEntityProfile,
  settings: PhoneSettings,
  municipalityNames?: MunicipalityNames,
): AuthorityResolver {
  const built = new Map<string, IssuingAuthority>();
  const phoneOf = (authority: IssuingAuthority): IssuingAuthority => {
    let phone = built.get(authority.ca.id);
    if (phone === undefined) {
      const ca = authority.ca;
      const issuer = EndEntityIssuer.create({ profile: phoneProfile(cardProfileOf(authority), settings), caId: ca.id, caCertificate: ca.certificate, signatureAlgorithm: ca.signatureAlgorithm, partitionCount: ca.partitionCount });
      const noSigner = { sign: (): Promise<Uint8Array> => Promise.reject(new CaError("internal", "phone authorities sign through the card authority")) };
      phone = { ...issuingAuthority(ca, issuer, noSigner, municipalityNames), sign: (tbs) => authority.sign(tbs) };
      built.set(ca.id, phone);
    }
    return phone;
  };
  return {
    active: (kind) => phoneOf(card.active(kind)),
    byCaId: (caId) => {
      const authority = card.byCaId(caId);
      return authority === undefined ? undefined : phoneOf(authority);
    },
  };
}
