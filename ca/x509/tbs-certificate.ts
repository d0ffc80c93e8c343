import * as pkijs from "pkijs";
import { serialNumberInteger, type SerialInput } from "./serial-number.js";
import { x509Time } from "./time.js";

/**
 * The fields of a v3 TBSCertificate (RFC 5280 §4.1), as a pkijs.Certificate ready for
 * `encodeTbsCertificate` / `signCertificate` (which set the signature algorithm).
 */
export interface TbsCertificateFields {
  /** bigint, or lower-case hex content octets as ca/issuance/serial.ts makes them. */
  readonly serial: SerialInput;
  /** DER of the issuer Name (taken byte-exactly from the issuer certificate's subject), or a pkijs name. */
  readonly issuer: Uint8Array | pkijs.RelativeDistinguishedNames;
  readonly subject: Uint8Array | pkijs.RelativeDistinguishedNames;
  /** Truncated to the second; UTCTime through 2049, GeneralizedTime from 2050. */
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** DER SubjectPublicKeyInfo. */
  readonly subjectPublicKey: Uint8Array;
  readonly extensions: readonly pkijs.Extension[];
}

const asName = (n: Uint8Array | pkijs.RelativeDistinguishedNames): pkijs.RelativeDistinguishedNames =>
  n instanceof Uint8Array ? pkijs.RelativeDistinguishedNames.fromBER(n.slice().buffer) : n;

/** A v3 certificate with every TBS field set except the signature algorithm. */
export function buildTbsCertificate(fields: TbsCertificateFields): pkijs.Certificate {
  const cert = new pkijs.Certificate();
  cert.version = 2; // v3 (RFC 5280 §4.1.2.1): extensions are present
  cert.serialNumber = serialNumberInteger(fields.serial);
  cert.issuer = asName(fields.issuer);
  cert.subject = asName(fields.subject);
  cert.notBefore = x509Time(fields.notBefore);
  cert.notAfter = x509Time(fields.notAfter);
  cert.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(fields.subjectPublicKey.slice().buffer);
  cert.extensions = fields.extensions.length > 0 ? [...fields.extensions] : undefined;
  return cert;
}
