import type { SigningPersonalData } from "../profiles/end-entity-certificate.js";
import type { SubjectKeyPolicy } from "../profiles/subject-key-policy.js";
import type { CaGeneration, CaKind } from "../types.js";
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
