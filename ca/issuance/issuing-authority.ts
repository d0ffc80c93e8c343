import type { SigningPersonalData } from "../profiles/end-entity-certificate.js";
import type { SubjectKeyPolicy } from "../profiles/subject-key-policy.js";
import type { Signer } from "../ports.js";
import { localityOf, type MunicipalityNames } from "../residents/municipality.js";
import type { CaGeneration, CaKind } from "../types.js";
import { formatName } from "../x509/name.js";
import { pem } from "../x509/pem.js";
import type { EndEntityIssuer } from "./end-entity-issuer.js";
import type { ValidityRules } from "./validity.js";

/** The personal fields written into a signing certificate's subjectAltName (docs/domain.md §2). */
export type PersonalFields = SigningPersonalData;

/** The variable part of an end-entity certificate. */
export interface EndEntityVariables {
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly partition: number;
  readonly subjectId: string;
  /** DER SubjectPublicKeyInfo from the CSR. */
  readonly subjectPublicKey: Uint8Array;
  readonly municipalityCode: string;
  /** Signing certificates only. */
  readonly personal: PersonalFields | null;
}

/**
 * One active CA generation, ready to issue end-entity certificates of its kind: the profile data and
 * the encoder/signer. Built by the composition root from the CA record, its HSM signer and the profile.
 */
export interface IssuingAuthority {
  readonly kind: CaKind;
  readonly ca: CaGeneration;
  readonly caCertificatePem: string;
  /** The issuer DN as text, for answers. */
  readonly issuerName: string;
  readonly policyOid: string;
  readonly keyUsage: readonly string[];
  readonly subjectKeyPolicy: SubjectKeyPolicy;
  readonly validityRules: ValidityRules;
  /** DER of the to-be-signed certificate (deterministic: the same variables give the same bytes). */
  prepare(v: EndEntityVariables): Uint8Array;
  /**
   * Signs the TBS with the CA key in the HSM, assembles the certificate and verifies its signature
   * against the CA public key before returning it (docs/design.md invariant 1).
   */
  sign(tbs: Uint8Array): Promise<Uint8Array>;
}

/** Resolves the authority that issues a kind now (the active generation). */
export interface AuthorityResolver {
  active(kind: CaKind): IssuingAuthority;
  byCaId(caId: string): IssuingAuthority | undefined;
}

/**
 * The IssuingAuthority of one CA generation: the profile and DER template of `issuer`, the CA key behind
 * `signer`. The subject's L comes from the municipality code (ca/residents/municipality.ts, with
 * `municipalityNames` added to the built-in names) where the profile writes one; the personal fields go
 * only into a profile that carries them (signing certificates, docs/domain.md §2).
 */
export function issuingAuthority(ca: CaGeneration, issuer: EndEntityIssuer, signer: Pick<Signer, "sign">, municipalityNames?: MunicipalityNames): IssuingAuthority {
  const { profile } = issuer.template;
  return {
    kind: ca.kind,
    ca,
    caCertificatePem: pem(ca.certificate, "CERTIFICATE"),
    issuerName: formatName(issuer.template.ca.subject),
    policyOid: profile.policy.oid,
    keyUsage: profile.keyUsage,
    subjectKeyPolicy: profile.subjectKeyPolicy,
    validityRules: profile.validity,
    prepare: (v) =>
      issuer.prepare({
        serialHex: v.serial,
        partition: v.partition,
        notBefore: v.notBefore,
        notAfter: v.notAfter,
        subjectId: v.subjectId,
        subjectPublicKey: v.subjectPublicKey,
        locality: profile.subjectLocality ? localityOf(v.municipalityCode, municipalityNames) : null,
        personal: profile.personalData ? v.personal : null,
      }),
    sign: async (tbs) => issuer.finish(tbs, await signer.sign(tbs)),
  };
}
