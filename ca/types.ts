/** Domain records shared by the core and its adapters. */

/** docs/api.md §2: `sign` issues signing certificates, `auth` user-authentication certificates. */
export type CaKind = "sign" | "auth";
export const caKinds: readonly CaKind[] = ["sign", "auth"] as const;

/** `<kind>-g<n>`, e.g. `sign-g1`. */
export type CaId = `${CaKind}-g${number}`;
export const caIdOf = (kind: CaKind, generation: number): CaId => `${kind}-g${generation}`;
export function parseCaId(id: string): { kind: CaKind; generation: number } | undefined {
  const m = /^(sign|auth)-g([1-9][0-9]{0,3})$/.exec(id);
  return m ? { kind: m[1] as CaKind, generation: Number(m[2]) } : undefined;
}

export type CaStatus = "active" | "retired";

/** Key specifications the HSM generates. */
export type KeySpec = { type: "rsa"; bits: 2048 | 3072 | 4096 } | { type: "ec"; curve: "P-256" | "P-384" };

/** One CA generation: its HSM key and self-signed certificate. */
export interface CaGeneration {
  readonly id: CaId;
  readonly kind: CaKind;
  readonly generation: number;
  /** e.g. "RSA-2048", "P-384". */
  readonly keyAlgorithm: string;
  readonly signatureAlgorithm: import("./ports.js").SignatureAlgorithmName;
  /** RFC 7512 URI of the CA private key in the token. */
  readonly keyUri: string;
  /** DER of the self-signed CA certificate. */
  readonly certificate: Uint8Array;
  /** Serial prefix byte of this generation (docs/design.md invariant 2). */
  readonly serialPrefix: number;
  /** Fixed at creation; never changes (docs/domain.md §4). */
  readonly partitionCount: number;
  readonly status: CaStatus;
  /** DER of the delegated OCSP responder certificate and the URI of its key. */
  readonly ocspResponderCertificate: Uint8Array | null;
  readonly ocspResponderKeyUri: string | null;
  readonly createdAt: Date;
}

/** Where the certificate's key lives: the My Number Card or a smartphone's secure element (docs/linkage.md). */
export type CertificateDevice = "card" | "phone";

export type CertificateStatus = "pending" | "valid" | "revoked" | "hold" | "failed";

/** RFC 5280 §5.3.1 reason names used by the CA (docs/api.md §6). */
export type RevocationReason =
  | "unspecified"
  | "keyCompromise"
  | "cACompromise"
  | "affiliationChanged"
  | "superseded"
  | "cessationOfOperation"
  | "certificateHold";

export const revocationReasonCodes: Readonly<Record<RevocationReason, number>> = Object.freeze({
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
});

/** An issued (or reserved) end-entity certificate and what was recorded with it. */
export interface CertificateRecord {
  /** Lower-case hex, no separators (docs/api.md §0). */
  readonly serial: string;
  readonly caId: CaId;
  readonly kind: CaKind;
  /** Migration 0026; "card" for every certificate issued before phone certificates. */
  readonly device: CertificateDevice;
  readonly status: CertificateStatus;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly partition: number;
  /** DER of the certificate; null while pending. */
  readonly der: Uint8Array | null;
  /** DER of the to-be-signed certificate, stored before signing (invariant 1). */
  readonly tbs: Uint8Array | null;
  /** SHA-256 of the subject public key info, hex: refuses a key already in another valid certificate. */
  readonly publicKeySha256: string;
  readonly subjectId: string;
  readonly residentCode: string | null;
  readonly issuanceId: string | null;
  /** Recorded personal and application fields (JSON). */
  readonly recorded: Readonly<Record<string, unknown>>;
  readonly revokedAt: Date | null;
  readonly revocationReason: RevocationReason | null;
  readonly invalidityDate: Date | null;
  readonly createdAt: Date;
}

/** An entry of the append-only audit log. `detail` may hold personal data: the audit log is not a log file. */
export interface AuditEntryInput {
  readonly at: Date;
  /** e.g. "ca.init", "certificate.issued", "operator.login.failed". */
  readonly action: string;
  /** Who did it: "operator:<id>", "terminal:<id>", "system", "cli". */
  readonly actor: string;
  /** What it was done to: "ca:sign-g1", "certificate:<serial>". */
  readonly subject: string | null;
  readonly outcome: "success" | "failure" | "denied";
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface AuditEntry extends AuditEntryInput {
  readonly seq: number;
  /** hex SHA-256 of the previous entry's hash and this entry's canonical form (hash chain). */
  readonly prevHash: string;
  readonly hash: string;
}
