/**
 * A minimal DER writer (X.690 §8, §10) for ASSEMBLY only: wrapping bytes that were already encoded
 * (the TBS, an AlgorithmIdentifier, a signature) without re-encoding or re-parsing them, and building
 * hot-path templates. It does not parse and knows nothing about certificates.
 *
 * Only low tag numbers (0..30, one identifier octet) are supported: every tag X.509, CRLs and OCSP use
 * is one of them.
 */

/** Universal tag numbers used here (X.680 §8.4). */
export const DerTag = Object.freeze({
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
});

/** Concatenates byte arrays. */
export function derConcat(...parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** DER length octets (X.690 §10.1: definite form, minimal number of octets). */
export function derLength(length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`invalid DER length ${length}`);
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** A TLV with a one-octet identifier `tag` (class, constructed bit and number already combined). */
export function derTlv(tag: number, ...content: readonly Uint8Array[]): Uint8Array {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) {
    throw new RangeError(`unsupported DER tag 0x${tag.toString(16)}`);
  }
  const body = content.length === 1 ? content[0]! : derConcat(...content);
  return derConcat(Uint8Array.of(tag), derLength(body.length), body);
}

/** SEQUENCE { parts… } where each part is already a complete DER element. */
export function derSequence(...parts: readonly Uint8Array[]): Uint8Array {
  return derTlv(DerTag.sequence, ...parts);
}

/**
 * SET { parts… }. DER (X.690 §11.6) requires SET OF components in ascending byte order; pass
 * `sortForSetOf: true` to have them sorted (a SET with one element, as in a Name's RDN, needs nothing).
 */
export function derSet(parts: readonly Uint8Array[], sortForSetOf = false): Uint8Array {
  const ordered = sortForSetOf ? [...parts].sort(compareBytes) : parts;
  return derTlv(DerTag.set, ...ordered);
}

/** BIT STRING: the unused-bits octet, then the bytes (X.690 §8.6). Signatures and keys use 0 unused bits. */
export function derBitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7) {
    throw new RangeError(`invalid unused bit count ${unusedBits}`);
  }
  if (bytes.length === 0 && unusedBits !== 0) throw new RangeError("empty BIT STRING must have 0 unused bits");
  return derTlv(DerTag.bitString, Uint8Array.of(unusedBits), bytes);
}

/** INTEGER in minimal two's complement (X.690 §8.3.2): a leading 0x00 keeps a positive value positive. */
export function derInteger(value: bigint): Uint8Array {
  return derTlv(DerTag.integer, integerContent(value));
}

/** The content octets of an INTEGER. */
export function integerContent(value: bigint): Uint8Array {
  if (value === 0n) return Uint8Array.of(0);
  const bytes: number[] = [];
  if (value > 0n) {
    for (let v = value; v > 0n; v >>= 8n) bytes.unshift(Number(v & 0xffn));
    if (bytes[0]! & 0x80) bytes.unshift(0);
  } else {
    // Two's complement: emit bytes until the remaining value is -1 and the sign bit is already set.
    let v = value;
    for (;;) {
      const b = Number(v & 0xffn);
      bytes.unshift(b);
      v >>= 8n;
      if (v === -1n && b & 0x80) break;
    }
  }
  return Uint8Array.from(bytes);
}

/** OCTET STRING. */
export function derOctetString(bytes: Uint8Array): Uint8Array {
  return derTlv(DerTag.octetString, bytes);
}

/** NULL (05 00). */
export function derNull(): Uint8Array {
  return Uint8Array.of(DerTag.null, 0);
}

/** BOOLEAN: DER TRUE is 0xFF (X.690 §11.1). */
export function derBoolean(value: boolean): Uint8Array {
  return Uint8Array.of(DerTag.boolean, 1, value ? 0xff : 0);
}

/**
 * A context-specific tag `[n]`. `constructed: true` for EXPLICIT tagging or an IMPLICIT tag over a
 * constructed type (the content is then one or more complete elements); `false` for an IMPLICIT tag
 * over a primitive type (the content is the primitive's content octets).
 */
export function derContext(tagNumber: number, content: Uint8Array, constructed: boolean): Uint8Array {
  if (!Number.isInteger(tagNumber) || tagNumber < 0 || tagNumber > 30) {
    throw new RangeError(`unsupported context tag [${tagNumber}]`);
  }
  return derTlv(0x80 | (constructed ? 0x20 : 0) | tagNumber, content);
}

/**
 * DER SET OF ordering (X.690 §11.6): compare as octet strings, the shorter one padded at its end
 * with 0x00 octets.
 */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
