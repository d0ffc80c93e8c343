import { DerReadError, elementBytes, elementContent, readChildren, readElement, readWhole, type DerElement } from "../ca/x509/der-reader.js";

/**
 * Reads back the parts of a DER CRL the coverage check and the tests need, by walking the structure
 * (no object per entry: a million entries read in well under a second).
 */
export interface CrlSummary {
  /** DER of the issuer Name. */
  readonly issuer: Uint8Array;
  /** DER of the `[0]` crlExtensions element, or an empty array. */
  readonly extensions: Uint8Array;
  /** Offsets of revokedCertificates inside `der`, or null when absent. */
  readonly revoked: DerElement | null;
}

/** Splits a CertificateList's TBS (RFC 5280 §5.1). DerReadError on anything that is not one. */
export function readCrl(der: Uint8Array): CrlSummary {
  const list = readWhole(der);
  const [tbs] = readChildren(der, list);
  if (tbs?.tag !== 0x30) throw new DerReadError("not a CertificateList");
  const fields = readChildren(der, tbs);
  let i = fields[0]?.tag === 0x02 ? 1 : 0; // optional version
  i++; // signature AlgorithmIdentifier
  const issuer = fields[i++];
  if (issuer?.tag !== 0x30) throw new DerReadError("no issuer");
  i++; // thisUpdate
  if (fields[i]?.tag === 0x17 || fields[i]?.tag === 0x18) i++; // nextUpdate
  const revoked = fields[i]?.tag === 0x30 ? fields[i++]! : null;
  const extensions = fields[i]?.tag === 0xa0 ? elementBytes(der, fields[i]!) : new Uint8Array(0);
  return { issuer: elementBytes(der, issuer), extensions, revoked };
}

/** The serials (lower-case hex of the INTEGER content octets) of every entry, in CRL order. */
export function* crlEntrySerials(der: Uint8Array): Generator<string> {
  const { revoked } = readCrl(der);
  if (revoked === null) return;
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  for (let pos = revoked.contentStart; pos < revoked.end; ) {
    const entry = readElement(der, pos, revoked.end);
    const serial = readElement(der, entry.contentStart, entry.end);
    if (serial.tag !== 0x02) throw new DerReadError("entry without a serial INTEGER");
    yield buf.toString("hex", serial.contentStart, serial.end);
    pos = entry.end;
  }
}

/** The value (OCTET STRING content) of a CRL extension, or undefined. */
export function crlExtensionValue(der: Uint8Array, oidDer: Uint8Array): Uint8Array | undefined {
  const { extensions } = readCrl(der);
  if (extensions.length === 0) return undefined;
  const wrapper = readWhole(extensions);
  const [seq] = readChildren(extensions, wrapper);
  if (seq === undefined) return undefined;
  for (const ext of readChildren(extensions, seq)) {
    const parts = readChildren(extensions, ext);
    const id = parts[0];
    if (id !== undefined && Buffer.compare(Buffer.from(elementBytes(extensions, id)), Buffer.from(oidDer)) === 0) {
      const value = parts[parts.length - 1]!;
      return elementContent(extensions, value);
    }
  }
  return undefined;
}
