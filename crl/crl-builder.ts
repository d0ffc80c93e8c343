import { algorithmIdentifierDer } from "../ca/profiles/algorithms.js";
import { CaError } from "../ca/errors.js";
import type { Signer } from "../ca/ports.js";
import { derConcat, derContext, derInteger, derLength, derSequence } from "../ca/x509/der.js";
import { authorityKeyIdentifierExtension, extensionDer } from "../ca/x509/extensions.js";
import { verifySignature } from "../ca/x509/signed-certificate.js";
import { timeDer, truncateToSecond } from "../ca/x509/time.js";
import {
  crlNumberExtension,
  deltaCrlIndicatorExtension,
  expiredCertsOnCrlExtension,
  freshestCrlExtension,
  issuingDistributionPointExtension,
} from "./crl-extensions.js";
import { signLarge } from "./prehash-signer.js";
import { RevokedEntryWriter, type RevokedEntry } from "./revoked-entry-der.js";

/**
 * Streaming build of one partition CRL (RFC 5280 §5):
 *
 * ```
 * CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }
 * TBSCertList ::= SEQUENCE { version v2, signature, issuer, thisUpdate, nextUpdate,
 *                            revokedCertificates SEQUENCE OF … OPTIONAL, crlExtensions [0] EXPLICIT }
 * ```
 *
 * The frame (version … nextUpdate) and the extensions are small and written once; the entries come
 * page by page from an (async) iterable, are encoded by the direct DER writer into chunks of about
 * 1 MB, and the chunks are copied once into the output buffer. Memory is bounded by one page of rows
 * plus about twice the finished CRL (chunks + output), never by the entry count times an object graph.
 * The TBS is signed in place (a digest through `PrehashSigner` when the signer offers it) and the
 * signature is verified against the CA key before the CRL leaves this module (docs/design.md invariant 1).
 */

/** What is constant for one CRL apart from its entries. */
export interface CrlFrame {
  /** DER Name of the CA certificate's subject, byte for byte (RFC 5280 §5.1.2.3). */
  readonly issuer: Uint8Array;
  /** The CA's subjectKeyIdentifier, for authorityKeyIdentifier (RFC 5280 §5.2.1: MUST be included). */
  readonly authorityKeyId: Uint8Array;
  readonly thisUpdate: Date;
  /** RFC 5280 §5.1.2.5: conforming CAs MUST include nextUpdate. */
  readonly nextUpdate: Date;
  /** RFC 5280 §5.2.3, one sequence per partition shared by full and delta CRLs. */
  readonly crlNumber: number | bigint;
  /** The partition URL: the IDP's fullName and the certificates' CDP (RFC 5280 §5.2.5). */
  readonly distributionPoint: string;
  /** Full CRLs: the delta CRL URL for freshestCRL (§5.2.6). */
  readonly freshestCrl?: string;
  /** Delta CRLs: the CRL number of the complete CRL this delta updates (§5.2.4). */
  readonly deltaBaseNumber?: number | bigint;
  /**
   * Status after expiry (docs/crl.md): revoked certificates whose notAfter is at or after this date are
   * kept on the CRL, said by expiredCertsOnCRL (X.509 2.5.29.60), last.
   */
  readonly expiredCertsOnCrl?: Date;
}

/** Entries in pages: arrays from a database cursor, or one array for a small CRL. */
export type EntryPages = AsyncIterable<readonly RevokedEntry[]> | Iterable<readonly RevokedEntry[]>;

export interface BuiltCrl {
  /** DER CertificateList. */
  readonly der: Uint8Array;
  readonly entries: number;
  /** Bytes of the TBSCertList (what was hashed and signed). */
  readonly tbsLength: number;
}

export interface BuildCrlOptions {
  /** DER SPKI the signature must verify against (the CA certificate's key); default the signer's. */
  readonly issuerPublicKey?: Uint8Array;
}

/** Checks the frame (RFC 5280 rules pkijs would not enforce). */
function checkFrame(frame: CrlFrame): void {
  const bad = (why: string): CaError => new CaError("invalid-input", `CRL ${why}`);
  if (!(frame.thisUpdate.getTime() < frame.nextUpdate.getTime())) throw bad("nextUpdate must be after thisUpdate");
  if (frame.freshestCrl !== undefined && frame.deltaBaseNumber !== undefined) {
    throw bad("freshestCRL MUST NOT appear in a delta CRL (RFC 5280 §5.2.6)");
  }
  if (frame.deltaBaseNumber !== undefined && BigInt(frame.deltaBaseNumber) >= BigInt(frame.crlNumber)) {
    throw bad("delta CRL number must be greater than its base CRL number (RFC 5280 §5.2.4)");
  }
  if (frame.authorityKeyId.length === 0) throw bad("needs the CA key identifier (RFC 5280 §5.2.1)");
}

/**
 * `[0] EXPLICIT Extensions` of the CRL, in this order: authorityKeyIdentifier, cRLNumber,
 * deltaCRLIndicator (delta only), issuingDistributionPoint, freshestCRL (full only), expiredCertsOnCRL
 * (when status after expiry is kept).
 */
export function crlExtensionsDer(frame: CrlFrame): Uint8Array {
  const exts = [authorityKeyIdentifierExtension(frame.authorityKeyId), crlNumberExtension(frame.crlNumber)];
  if (frame.deltaBaseNumber !== undefined) exts.push(deltaCrlIndicatorExtension(frame.deltaBaseNumber));
  exts.push(issuingDistributionPointExtension(frame.distributionPoint));
  if (frame.freshestCrl !== undefined) exts.push(freshestCrlExtension(frame.freshestCrl));
  if (frame.expiredCertsOnCrl !== undefined) exts.push(expiredCertsOnCrlExtension(frame.expiredCertsOnCrl));
  return derContext(0, derSequence(...exts.map(extensionDer)), true);
}

/** version (v2 = INTEGER 1), signature, issuer, thisUpdate, nextUpdate. */
export function crlFrameDer(frame: CrlFrame, algId: Uint8Array): Uint8Array {
  // RFC 5280 §5.1.2.4–5: whole seconds, UTCTime through 2049 and GeneralizedTime after.
  return derConcat(derInteger(1n), algId, frame.issuer, timeDer(truncateToSecond(frame.thisUpdate)), timeDer(truncateToSecond(frame.nextUpdate)));
}

/** Encodes the pages into chunks of about `chunkBytes`. */
async function encodeEntries(pages: EntryPages, chunkBytes: number): Promise<{ chunks: Uint8Array[]; entries: number; bytes: number }> {
  const writer = new RevokedEntryWriter(Math.min(chunkBytes + 4096, 4 * 1024 * 1024));
  const chunks: Uint8Array[] = [];
  let entries = 0;
  let bytes = 0;
  const flush = (): void => {
    if (writer.length === 0) return;
    entries += writer.entries;
    const chunk = writer.take();
    bytes += chunk.length;
    chunks.push(chunk);
  };
  for await (const page of pages) {
    for (const entry of page) {
      writer.write(entry);
      if (writer.length >= chunkBytes) flush();
    }
  }
  flush();
  return { chunks, entries, bytes };
}

/** Largest signature value any CA algorithm produces here: RSA-4096 (512 octets); ECDSA P-384 ≤ 104. */
const MAX_SIGNATURE = 512;
/** Room left for the outer SEQUENCE header (tag + up to 5 length octets). */
const OUTER_HEADER_ROOM = 6;

/**
 * Builds, signs and verifies one CRL. Throws CaError("internal") when the signature does not verify
 * against the issuer key (wrong key in the token, faulty HSM).
 */
export async function buildCrl(frame: CrlFrame, signer: Signer, pages: EntryPages, options: BuildCrlOptions = {}): Promise<BuiltCrl> {
  checkFrame(frame);
  const algId = algorithmIdentifierDer(signer.algorithm);
  const head = crlFrameDer(frame, algId);
  const extensions = crlExtensionsDer(frame);
  const { chunks, entries, bytes } = await encodeEntries(pages, 1024 * 1024);
  // RFC 5280 §5.1.2.6: "When there are no revoked certificates, the revoked certificates list MUST be absent."
  const revokedHeader = bytes > 0 ? derConcat(Uint8Array.of(0x30), derLength(bytes)) : new Uint8Array(0);
  const tbsContent = head.length + revokedHeader.length + bytes + extensions.length;
  const tbsHeader = derConcat(Uint8Array.of(0x30), derLength(tbsContent));
  const tbsLength = tbsHeader.length + tbsContent;

  // One allocation for the whole CertificateList: the TBS is written after room for the outer header,
  // signed in place, and moved down by memmove once the header length is known.
  const out = new Uint8Array(OUTER_HEADER_ROOM + tbsLength + algId.length + 4 + MAX_SIGNATURE);
  let p = OUTER_HEADER_ROOM;
  for (const part of [tbsHeader, head, revokedHeader]) {
    out.set(part, p);
    p += part.length;
  }
  for (let i = 0; i < chunks.length; i++) {
    out.set(chunks[i]!, p);
    p += chunks[i]!.length;
    chunks[i] = new Uint8Array(0); // let the chunk go as soon as it is copied
  }
  out.set(extensions, p);
  p += extensions.length;
  const tbs = out.subarray(OUTER_HEADER_ROOM, p);

  const signature = await signLarge(signer, tbs);
  if (signature.length > MAX_SIGNATURE) throw new CaError("internal", "signature longer than any supported algorithm produces");
  if (!verifySignature(signer.algorithm, tbs, signature, options.issuerPublicKey ?? signer.publicKey)) {
    throw new CaError("internal", "CRL signature does not verify against the CA public key");
  }
  const bitString = derConcat(Uint8Array.of(0x03), derLength(signature.length + 1), Uint8Array.of(0), signature);
  const outerHeader = derConcat(Uint8Array.of(0x30), derLength(tbsLength + algId.length + bitString.length));
  const start = OUTER_HEADER_ROOM - outerHeader.length;
  out.set(outerHeader, start);
  out.set(algId, p);
  p += algId.length;
  out.set(bitString, p);
  p += bitString.length;
  return { der: out.subarray(start, p), entries, tbsLength };
}
