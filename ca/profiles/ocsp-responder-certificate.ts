import { CaError } from "../errors.js";
import { systemClock, type Clock, type Signer } from "../ports.js";
import type { CaId } from "../types.js";
import {
  authorityKeyIdentifierExtension,
  extKeyUsageExtension,
  keyUsageExtension,
  ocspNoCheckExtension,
  subjectKeyIdentifierExtension,
} from "../x509/extensions.js";
import { notAfterWithinIssuer, parseIssuerCertificate } from "../x509/issuer-certificate.js";
import { encodeName, readName, type NameAttribute } from "../x509/name.js";
import { signCertificate } from "../x509/signed-certificate.js";
import { buildTbsCertificate } from "../x509/tbs-certificate.js";
import type { SerialInput } from "../x509/serial-number.js";
import { truncateToSecond } from "../x509/time.js";

/**
 * The delegated OCSP responder certificate of a CA generation (RFC 6960 §4.2.2.2, docs/domain.md §4), issued
 * by that CA:
 *
 * - subject `C=<CA's C>, O=<CA's O>, OU=<CA's first OU>, CN=OCSP Responder <caId>`
 *   (with the default profile: `C=JP, O=JPKI, OU=JPKI for digital signature, CN=OCSP Responder sign-g1`);
 * - keyUsage critical digitalSignature;
 * - extKeyUsage id-kp-OCSPSigning, non-critical (RFC 6960 §4.2.2.2 requires the purpose, not criticality);
 * - id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1), so clients do not ask for the responder's own status:
 *   hence the short validity (default 90 days);
 * - authorityKeyIdentifier = the CA's SKI, subjectKeyIdentifier of the responder key.
 *
 * notAfter is clamped to the CA certificate's notAfter, so the responder never outlives its issuer.
 */
export interface OcspResponderCertificateInput {
  /** Names the responder in its CN. */
  readonly caId: CaId;
  /** DER of the issuing CA certificate. */
  readonly caCertificate: Uint8Array;
  /** The CA key; its signature is verified against the CA certificate's key. */
  readonly caSigner: Signer;
  /** DER SubjectPublicKeyInfo of the responder key. */
  readonly responderPublicKey: Uint8Array;
  readonly serial: SerialInput;
  readonly notBefore?: Date;
  readonly clock?: Clock;
  /** Default 90. */
  readonly validityDays?: number;
}

/** Builds, signs (with the CA key) and verifies the responder certificate; returns its DER. */
export async function buildOcspResponderCertificate(input: OcspResponderCertificateInput): Promise<Uint8Array> {
  const validityDays = input.validityDays ?? 90;
  if (!Number.isInteger(validityDays) || validityDays < 1) throw new CaError("invalid-input", "validityDays must be 1 or more");
  const ca = parseIssuerCertificate(input.caCertificate);
  const notBefore = truncateToSecond(input.notBefore ?? (input.clock ?? systemClock).now());
  const notAfter = notAfterWithinIssuer(notBefore, validityDays, ca.notAfter, "CA");

  const tbs = buildTbsCertificate({
    serial: input.serial,
    issuer: ca.subject,
    subject: encodeName(responderSubject(ca.subject, input.caId)),
    notBefore,
    notAfter,
    subjectPublicKey: input.responderPublicKey,
    extensions: [
      keyUsageExtension(["digitalSignature"], true),
      extKeyUsageExtension(["OCSPSigning"], false),
      ocspNoCheckExtension(),
      authorityKeyIdentifierExtension(ca.keyIdentifier),
      subjectKeyIdentifierExtension(input.responderPublicKey),
    ],
  });
  return signCertificate(tbs, input.caSigner, { issuerPublicKey: ca.subjectPublicKey });
}

/** `C, O, first OU` of the CA subject, then `CN=OCSP Responder <caId>`. */
export function responderSubject(caSubject: Uint8Array, caId: CaId): NameAttribute[] {
  const attrs = readName(caSubject);
  const pick = (type: string): NameAttribute[] => {
    const a = attrs.find((x) => x.type === type);
    return a ? [{ type, value: a.value }] : [];
  };
  return [...pick("C"), ...pick("O"), ...pick("OU"), { type: "CN", value: `OCSP Responder ${caId}` }];
}
