import { CaError } from "../ca/errors.js";
import type { Signer } from "../ca/ports.js";
import type { CaGeneration, CaId } from "../ca/types.js";
import { parseIssuerCertificate } from "../ca/x509/issuer-certificate.js";
import { deltaCrlUrlOf, fullCrlUrlOf } from "./crl-extensions.js";

/**
 * What signing the CRLs of one CA generation needs: the issuer Name and key identifier sliced from the
 * CA certificate (RFC 5280 §5.1.2.3, §5.2.1), the HSM signer of the CA key, and the base URL the
 * certificates' CDP was written with (the end-entity profile's `crlBaseUrl`).
 */
export interface CrlAuthority {
  readonly caId: CaId;
  readonly partitionCount: number;
  /** DER Name: the CA certificate's subject, byte for byte. */
  readonly issuerName: Uint8Array;
  readonly keyIdentifier: Uint8Array;
  /** DER SPKI of the CA certificate: every CRL signature is verified against it. */
  readonly issuerPublicKey: Uint8Array;
  readonly signer: Signer;
  readonly crlBaseUrl: string;
  /** The IDP / CDP URL of a partition. */
  fullUrl(partition: number): string;
  /** The freshestCRL URL of a partition. */
  deltaUrl(partition: number): string;
}

/**
 * Binds a CA generation to its signer. CaError("internal") when the signer's key or algorithm is not the
 * CA certificate's (a swapped token must never sign CRLs in the CA's name).
 */
export function crlAuthority(ca: CaGeneration, signer: Signer, crlBaseUrl: string): CrlAuthority {
  const issuer = parseIssuerCertificate(ca.certificate);
  if (signer.algorithm !== ca.signatureAlgorithm) {
    throw new CaError("internal", `CA ${ca.id}: signer algorithm ${signer.algorithm} is not the generation's ${ca.signatureAlgorithm}`);
  }
  if (Buffer.compare(Buffer.from(signer.publicKey), Buffer.from(issuer.subjectPublicKey)) !== 0) {
    throw new CaError("internal", `CA ${ca.id}: the signer's key is not the CA certificate's key`);
  }
  if (!Number.isInteger(ca.partitionCount) || ca.partitionCount < 1) throw new CaError("internal", `CA ${ca.id}: bad partition count`);
  if (crlBaseUrl.endsWith("/")) throw new CaError("invalid-input", "CRL base URL must not end with /", { field: "publicBaseUrl" });
  return Object.freeze({
    caId: ca.id,
    partitionCount: ca.partitionCount,
    issuerName: issuer.subject,
    keyIdentifier: issuer.keyIdentifier,
    issuerPublicKey: issuer.subjectPublicKey,
    signer,
    crlBaseUrl,
    fullUrl: (partition: number) => fullCrlUrlOf(crlBaseUrl, ca.id, partition),
    deltaUrl: (partition: number) => deltaCrlUrlOf(crlBaseUrl, ca.id, partition),
  });
}
