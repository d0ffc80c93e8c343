/**
 * ECDSA signature encodings. PKCS#11 `CKM_ECDSA` returns the raw `r || s` (PKCS#11 v2.40 §2.3.1:
 * each half as long as the order of the curve); X.509, CRLs and OCSP carry the DER
 * `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 5480 §2.2, RFC 3279 §2.2.3).
 */

/** DER length octets (X.690 §8.1.3: short form below 128, else the minimal long form). */
function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

/** A non-negative big-endian integer as DER INTEGER contents: minimal, with a 0x00 when the top bit is set. */
function integerContents(bytes: Uint8Array): number[] {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const body = Array.from(bytes.subarray(i));
  // X.690 §8.3.2: minimal two's complement; r and s are positive, so prefix 0x00 if the high bit is set.
  return (body[0] ?? 0) & 0x80 ? [0, ...body] : body;
}

/**
 * Converts a raw `r || s` signature (as returned by `CKM_ECDSA`) to a DER `ECDSA-Sig-Value`.
 * Throws on an empty or odd-length input, or r or s equal to zero (never valid, SEC 1 §4.1.3).
 */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0) {
    throw new Error(`raw ECDSA signature must be r||s of equal halves, got ${raw.length} bytes`);
  }
  const half = raw.length / 2;
  const parts = [raw.subarray(0, half), raw.subarray(half)];
  const body: number[] = [];
  for (const p of parts) {
    if (p.every((b) => b === 0)) throw new Error("raw ECDSA signature has r or s equal to zero");
    const c = integerContents(p);
    body.push(0x02, ...derLength(c.length), ...c);
  }
  return Uint8Array.from([0x30, ...derLength(body.length), ...body]);
}

/**
 * Converts a DER `ECDSA-Sig-Value` back to raw `r || s` with halves of `size` bytes (32 for P-256,
 * 48 for P-384). Strict DER: refuses trailing bytes, non-minimal lengths and non-minimal or
 * negative integers.
 */
export function ecdsaDerToRaw(der: Uint8Array, size: number): Uint8Array {
  let pos = 0;
  const bad = (why: string): never => {
    throw new Error(`malformed ECDSA-Sig-Value: ${why}`);
  };
  const readLength = (): number => {
    const first = der[pos++];
    if (first === undefined) return bad("truncated length");
    if (first < 0x80) return first;
    const n = first & 0x7f;
    if (n === 0 || n > 2) return bad("unsupported length form");
    let len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[pos++] ?? bad("truncated length"));
    if (len < 0x80 || (n === 2 && len < 0x100)) bad("non-minimal length");
    return len;
  };
  if (der[pos++] !== 0x30) bad("not a SEQUENCE");
  const seqLen = readLength();
  if (pos + seqLen !== der.length) bad("length does not match (trailing or missing bytes)");
  const out = new Uint8Array(size * 2);
  for (let k = 0; k < 2; k++) {
    if (der[pos++] !== 0x02) bad("expected INTEGER");
    const len = readLength();
    const v = der.subarray(pos, pos + len);
    pos += len;
    if (v.length !== len || len === 0) bad("truncated INTEGER");
    if ((v[0] ?? 0) & 0x80) bad("negative INTEGER");
    if (len > 1 && v[0] === 0 && !((v[1] ?? 0) & 0x80)) bad("non-minimal INTEGER");
    const mag = v[0] === 0 ? v.subarray(1) : v;
    if (mag.length > size) bad("INTEGER longer than the curve order");
    out.set(mag, k * size + (size - mag.length));
  }
  if (pos !== der.length) bad("trailing bytes");
  return out;
}
