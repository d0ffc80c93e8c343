import type { RevokedEntry } from "../ca/revocation/crl-ports.js";
import { CaError } from "../ca/errors.js";

export type { RevokedEntry } from "../ca/revocation/crl-ports.js";

/**
 * Direct DER of CRL entries (RFC 5280 §5.1.2.6), written straight into a byte buffer.
 *
 * A partition CRL can hold a million entries; building them as pkijs `RevokedCertificate` objects cost
 * 224 s and 8.7 GB for 1M entries against about 0.1 s here (docs/traps.md §3 "CRL"). Every byte written
 * is the byte pkijs would write for the same entry (proven over random inputs in
 * test/unit/crl/revoked-entry-der.test.ts):
 *
 * ```
 * SEQUENCE {
 *   userCertificate     INTEGER (the serial's content octets as stored: already minimal and positive)
 *   revocationDate      Time    (UTCTime 1950–2049, GeneralizedTime otherwise; RFC 5280 §5.1.2.6)
 *   crlEntryExtensions  SEQUENCE OF Extension OPTIONAL {
 *     reasonCode      (2.5.29.21) ENUMERATED   — omitted for unspecified (RFC 5280 §5.3.1 SHOULD)
 *     invalidityDate  (2.5.29.24) GeneralizedTime — when known (RFC 5280 §5.3.2)
 *   }
 * }
 * ```
 * Both extensions are non-critical (§5.3.1, §5.3.2), so the BOOLEAN DEFAULT FALSE is absent. Times
 * are whole seconds: the inputs are epoch seconds, which also spares a Date per entry.
 */


/** CRLReason values the CA writes (docs/api.md §6): 7 is unassigned; 8–10 are not used (docs/domain.md §3). */
export const maxReasonCode = 6;

/** Longest entry: SEQUENCE hdr 2 + INTEGER 2+20 + GeneralizedTime 17 + extensions 2+12+26 = 81. */
export const MAX_ENTRY_BYTES = 81;

// Extension prefixes (everything but the variable last octets).
// SEQUENCE { OID 2.5.29.21, OCTET STRING { ENUMERATED rc } }
const REASON_PREFIX = Uint8Array.of(0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01);
// SEQUENCE { OID 2.5.29.24, OCTET STRING { GeneralizedTime (15 octets) } }
const INVALIDITY_PREFIX = Uint8Array.of(0x30, 0x18, 0x06, 0x03, 0x55, 0x1d, 0x18, 0x04, 0x11, 0x18, 0x0f);
const REASON_EXT_BYTES = REASON_PREFIX.length + 1; // 12
const INVALIDITY_EXT_BYTES = INVALIDITY_PREFIX.length + 15; // 26

/** Epoch seconds of 1950-01-01 and 2050-01-01: UTCTime range (RFC 5280 §4.1.2.5). */
const UTC_TIME_FROM = -631152000;
const UTC_TIME_UNTIL = 2524608000;
/** 0000-01-01 and 10000-01-01: what GeneralizedTime's four year digits can hold. */
const MIN_SECONDS = -62167219200;
const MAX_SECONDS = 253402300800;

function badEntry(why: string): CaError {
  return new CaError("invalid-input", `CRL entry ${why}`, { field: "serial" });
}

/**
 * Appends entries to a growing buffer; `take()` hands the bytes over and starts again. One writer per
 * page keeps memory bounded by the page (and the final CRL), never by object graphs.
 */
export class RevokedEntryWriter {
  private buf: Buffer;
  private pos = 0;
  private count = 0;

  constructor(initialCapacity = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(initialCapacity, MAX_ENTRY_BYTES));
  }

  /** Entries written since the last `take()`. */
  get entries(): number {
    return this.count;
  }

  /** Bytes written since the last `take()`. */
  get length(): number {
    return this.pos;
  }

  /** Encodes one entry. CaError("invalid-input") for a serial, time or reason the CRL cannot carry. */
  write(entry: RevokedEntry): void {
    if (this.buf.length - this.pos < MAX_ENTRY_BYTES) this.grow();
    const buf = this.buf;
    const serial = entry.serial;
    const serialOctets = serial.length >> 1;
    if (serialOctets < 1 || serialOctets > 20 || (serial.length & 1) !== 0) throw badEntry("serial must be 1–20 octets of hex");
    const revokedAt = entry.revokedAt;
    if (!Number.isInteger(revokedAt) || revokedAt < MIN_SECONDS || revokedAt >= MAX_SECONDS) throw badEntry("revocation date out of range");
    const utc = revokedAt >= UTC_TIME_FROM && revokedAt < UTC_TIME_UNTIL;
    const reason = entry.reasonCode;
    // 8 (removeFromCRL): a lifted phone hold on a delta CRL only (crl/released-entries.ts).
    if (!Number.isInteger(reason) || reason < 0 || (reason > maxReasonCode && reason !== 8)) throw badEntry("reason code must be 0–6 or 8 (RFC 5280 §5.3.1)");
    const invalidity = entry.invalidityDate;
    if (invalidity !== null && (!Number.isInteger(invalidity) || invalidity < MIN_SECONDS || invalidity >= MAX_SECONDS)) {
      throw badEntry("invalidity date out of range");
    }
    const extContent = (reason !== 0 ? REASON_EXT_BYTES : 0) + (invalidity !== null ? INVALIDITY_EXT_BYTES : 0);
    const content = 2 + serialOctets + (utc ? 15 : 17) + (extContent > 0 ? 2 + extContent : 0);

    const start = this.pos;
    let p = start;
    buf[p++] = 0x30;
    buf[p++] = content; // always < 128 (MAX_ENTRY_BYTES)
    buf[p++] = 0x02;
    buf[p++] = serialOctets;
    if (buf.write(serial, p, serialOctets, "hex") !== serialOctets) throw badEntry("serial is not hex");
    // RFC 5280 §4.1.2.2 / X.690 §8.3.2: positive and minimal, as ca/issuance/serial.ts stores it.
    const first = buf[p]!;
    if (first >= 0x80 || (first === 0 && (serialOctets === 1 || buf[p + 1]! < 0x80))) throw badEntry("serial must be a minimal positive INTEGER");
    p += serialOctets;
    p = writeTime(buf, p, revokedAt, utc);
    if (extContent > 0) {
      buf[p++] = 0x30;
      buf[p++] = extContent;
      if (reason !== 0) {
        buf.set(REASON_PREFIX, p);
        p += REASON_PREFIX.length;
        buf[p++] = reason;
      }
      if (invalidity !== null) {
        buf.set(INVALIDITY_PREFIX, p);
        p += INVALIDITY_PREFIX.length;
        p = writeDigits(buf, p, invalidity, true);
      }
    }
    this.pos = p;
    this.count++;
  }

  /** The bytes written so far (a copy sized exactly), and resets the writer. */
  take(): Uint8Array {
    const out = new Uint8Array(this.pos);
    out.set(this.buf.subarray(0, this.pos));
    this.pos = 0;
    this.count = 0;
    return out;
  }

  private grow(): void {
    const next = Buffer.allocUnsafe(this.buf.length * 2);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

/** The DER of one entry (tests, small CRLs). */
export function revokedEntryDer(entry: RevokedEntry): Uint8Array {
  const w = new RevokedEntryWriter(MAX_ENTRY_BYTES);
  w.write(entry);
  return w.take();
}

/** UTCTime (tag 0x17, 13 octets) or GeneralizedTime (0x18, 15 octets). */
function writeTime(buf: Buffer, p: number, seconds: number, utc: boolean): number {
  buf[p++] = utc ? 0x17 : 0x18;
  buf[p++] = utc ? 13 : 15;
  return writeDigits(buf, p, seconds, !utc);
}

/** `[YY]YYMMDDHHMMSSZ` of epoch seconds, without a Date (civil-from-days, H. Hinnant). */
function writeDigits(buf: Buffer, p: number, seconds: number, fourDigitYear: boolean): number {
  const days = Math.floor(seconds / 86400);
  let rem = seconds - days * 86400;
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(rem / 3600);
  rem -= hour * 3600;
  const minute = Math.floor(rem / 60);
  const second = rem - minute * 60;
  if (fourDigitYear) {
    buf[p++] = 48 + Math.floor(year / 1000);
    buf[p++] = 48 + (Math.floor(year / 100) % 10);
  }
  buf[p++] = 48 + (Math.floor(year / 10) % 10);
  buf[p++] = 48 + (year % 10);
  p = two(buf, p, month);
  p = two(buf, p, day);
  p = two(buf, p, hour);
  p = two(buf, p, minute);
  p = two(buf, p, second);
  buf[p++] = 0x5a; // 'Z'
  return p;
}

function two(buf: Buffer, p: number, v: number): number {
  buf[p] = 48 + Math.floor(v / 10);
  buf[p + 1] = 48 + (v % 10);
  return p + 2;
}
