/**
 * A minimal DER element walker: finds where each element starts and ends so that already-encoded parts
 * (a TBS, an AlgorithmIdentifier, a signature) can be sliced out byte-exactly, without decoding and
 * re-encoding them (docs/traps.md §3 trap 10). It reads structure only, never values.
 */

/** One element located in a buffer: `bytes.subarray(start, end)` is the whole TLV. */
export interface DerElement {
  /** The identifier octet (class, constructed bit and tag number). */
  readonly tag: number;
  readonly start: number;
  /** Where the content octets start. */
  readonly contentStart: number;
  /** One past the last content octet. */
  readonly end: number;
}

export class DerReadError extends Error {
  override readonly name = "DerReadError";
}

/** Reads the element starting at `offset`; DER only (definite, minimal lengths; low tag numbers). */
export function readElement(bytes: Uint8Array, offset = 0, limit = bytes.length): DerElement {
  if (offset + 2 > limit) throw new DerReadError("truncated element");
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerReadError("high tag numbers are not used here");
  let pos = offset + 1;
  const first = bytes[pos++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const count = first & 0x7f;
    if (count === 0) throw new DerReadError("indefinite length is not DER");
    if (count > 4 || pos + count > limit) throw new DerReadError("bad length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[pos++]!;
    if (length < 0x80 || bytes[pos - count] === 0) throw new DerReadError("non-minimal length");
  }
  const end = pos + length;
  if (end > limit) throw new DerReadError("element runs past its parent");
  return { tag, start: offset, contentStart: pos, end };
}

/** The elements directly inside a constructed element. */
export function readChildren(bytes: Uint8Array, parent: DerElement): DerElement[] {
  const out: DerElement[] = [];
  for (let pos = parent.contentStart; pos < parent.end; ) {
    const child = readElement(bytes, pos, parent.end);
    out.push(child);
    pos = child.end;
  }
  return out;
}

/** The message of readWhole's error when the element is followed by more bytes. */
export const TRAILING_BYTES = "trailing bytes after the element";

/** readWhole's error when the element is followed by more bytes (typed: callers never match the message). */
export class TrailingBytesError extends DerReadError {
  constructor() {
    super(TRAILING_BYTES);
  }
}

/** Reads one element that must fill `bytes` exactly. */
export function readWhole(bytes: Uint8Array): DerElement {
  const el = readElement(bytes, 0);
  if (el.end !== bytes.length) throw new TrailingBytesError();
  return el;
}

/** The TLV bytes of an element (a view, no copy). */
export function elementBytes(bytes: Uint8Array, el: DerElement): Uint8Array {
  return bytes.subarray(el.start, el.end);
}

/** The content octets of an element (a view, no copy). */
export function elementContent(bytes: Uint8Array, el: DerElement): Uint8Array {
  return bytes.subarray(el.contentStart, el.end);
}

/** Byte-exact equality of two encodings (AlgorithmIdentifiers, OIDs, hashes): DER has one encoding per value. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
