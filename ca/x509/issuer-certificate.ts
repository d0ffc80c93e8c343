import * as pkijs from "pkijs";
import { CaError } from "../errors.js";
import { DerReadError, elementBytes, elementContent, readChildren, readWhole } from "./der-reader.js";
import { extensionOids, keyIdentifier } from "./extensions.js";

/**
 * The parts of an issuer (CA) certificate that go into the certificates it issues, sliced byte-exactly
 * from its DER: the subject Name becomes their issuer (RFC 5280 §4.1.2.4 path building compares names
 * byte for byte in practice) and its key identifier their authorityKeyIdentifier.
 */
export interface IssuerCertificate {
  readonly der: Uint8Array;
  readonly certificate: pkijs.Certificate;
  /** DER of the subject Name, as encoded in the certificate. */
  readonly subject: Uint8Array;
  /** DER SubjectPublicKeyInfo, as encoded in the certificate. */
  readonly subjectPublicKey: Uint8Array;
  /** The subjectKeyIdentifier value; RFC 5280 §4.2.1.2 method 1 over the key when the extension is absent. */
  readonly keyIdentifier: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** Parses an issuer certificate. CaError "invalid-input" when the DER is not a certificate. */
export function parseIssuerCertificate(der: Uint8Array): IssuerCertificate {
  try {
    const cert = readWhole(der);
    const [tbs] = readChildren(der, cert);
    if (tbs === undefined) throw new DerReadError("no TBS");
    const fields = readChildren(der, tbs);
    const first = fields[0]?.tag === 0xa0 ? 1 : 0; // optional [0] version
    // serial, signature, issuer, validity, subject, subjectPublicKeyInfo
    const subject = fields[first + 4];
    const spki = fields[first + 5];
    if (subject?.tag !== 0x30 || spki?.tag !== 0x30) throw new DerReadError("bad TBS");
    const certificate = pkijs.Certificate.fromBER(der.slice().buffer);
    const subjectPublicKey = elementBytes(der, spki).slice();
    const skiExt = certificate.extensions?.find((e) => e.extnID === extensionOids.subjectKeyIdentifier);
    let keyId: Uint8Array;
    if (skiExt) {
      const value = skiExt.extnValue.valueBlock.valueHexView;
      const octets = readWhole(value);
      if (octets.tag !== 0x04) throw new DerReadError("bad subjectKeyIdentifier");
      keyId = elementContent(value, octets).slice();
    } else {
      keyId = keyIdentifier(subjectPublicKey);
    }
    return {
      der,
      certificate,
      subject: elementBytes(der, subject).slice(),
      subjectPublicKey,
      keyIdentifier: keyId,
      notBefore: certificate.notBefore.value,
      notAfter: certificate.notAfter.value,
    };
  } catch (cause) {
    if (cause instanceof CaError) throw cause;
    throw new CaError("invalid-input", "issuer certificate is not a DER X.509 certificate", { cause });
  }
}

/**
 * The notAfter of a certificate valid `days` days from `notBefore`, clamped to the issuer's notAfter: a
 * certificate never outlives its issuer. CaError "unprocessable" when the issuer (`issuerName` in the
 * message, e.g. "service CA") has expired by notBefore.
 */
export function notAfterWithinIssuer(notBefore: Date, days: number, issuerNotAfter: Date, issuerName: string): Date {
  const wanted = new Date(notBefore.getTime() + days * 86_400_000);
  const notAfter = wanted > issuerNotAfter ? issuerNotAfter : wanted;
  if (notAfter <= notBefore) throw new CaError("unprocessable", `the ${issuerName} certificate has expired before notBefore`);
  return notAfter;
}
