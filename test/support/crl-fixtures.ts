/**
 * Shared set-up of the CRL tests and bench: random entries and the pkijs reference encoding of an
 * entry (what crl/revoked-entry-der.ts must equal byte for byte).
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { x509Time } from "../../ca/x509/time.js";
import type { RevokedEntry } from "../../crl/revoked-entry-der.js";
import type { SeededRandom } from "./end-entity-fixtures.js";

/** The entry as pkijs encodes it (the reference the direct writer must equal byte for byte). */
export function pkijsEntryDer(e: RevokedEntry): Uint8Array {
  const extensions: pkijs.Extension[] = [];
  if (e.reasonCode !== 0) {
    extensions.push(new pkijs.Extension({ extnID: "2.5.29.21", critical: false, extnValue: new asn1js.Enumerated({ value: e.reasonCode }).toBER(false) }));
  }
  if (e.invalidityDate !== null) {
    const time = new asn1js.GeneralizedTime({ valueDate: new Date(e.invalidityDate * 1000) });
    extensions.push(new pkijs.Extension({ extnID: "2.5.29.24", critical: false, extnValue: time.toBER(false) }));
  }
  const entry = new pkijs.RevokedCertificate({
    userCertificate: asn1js.Integer.fromBigInt(BigInt(`0x${e.serial}`)),
    revocationDate: x509Time(new Date(e.revokedAt * 1000)),
    ...(extensions.length > 0 ? { crlEntryExtensions: new pkijs.Extensions({ extensions }) } : {}),
  });
  return new Uint8Array(entry.toSchema().toBER(false));
}

/** A random minimal positive serial of 1–20 octets (with a 0x00 pad before a high octet now and then). */
export function randomSerial(rng: SeededRandom): string {
  const length = rng.pick([1, 2, 8, 9, 15, 16, 16, 16, 19, 20]);
  const bytes = rng.bytes(length);
  const lead = rng.pick(["01", "7f", "pad", "random"] as const);
  if (lead === "pad" && length >= 2) {
    bytes[0] = 0;
    bytes[1]! |= 0x80;
  } else if (lead === "01") {
    bytes[0] = 1;
  } else {
    bytes[0] = lead === "7f" ? 0x7f : rng.int(1, 0x7f);
  }
  return Buffer.from(bytes).toString("hex");
}

/** Seconds across 1950/2050 (UTCTime/GeneralizedTime switch), leap days, year 9999 and 1900. */
export function randomSeconds(rng: SeededRandom): number {
  const anchors = [
    Date.UTC(1950, 0, 1),
    Date.UTC(2049, 11, 31, 23, 59, 59),
    Date.UTC(2050, 0, 1),
    Date.UTC(2024, 1, 29, 12),
    Date.UTC(2026, 10, 22, 1, 2, 3),
    Date.UTC(1900, 0, 1),
    Date.UTC(9999, 11, 31, 23, 59, 59),
    Date.UTC(1969, 11, 31, 23, 59, 59),
  ];
  const base = rng.next() < 0.5 ? rng.pick(anchors) : Date.UTC(rng.int(1951, 2100), rng.int(0, 11), rng.int(1, 28));
  const jitter = rng.next() < 0.3 ? 0 : rng.int(-86400 * 3, 86400 * 3) * 1000;
  const ms = Math.min(Math.max(base + jitter, Date.UTC(1900, 0, 1)), Date.UTC(9999, 11, 31, 23, 59, 59));
  return Math.floor(ms / 1000);
}

/** Random entries: every reason code, an invalidity date on about 30%. */
export function randomEntries(rng: SeededRandom, n: number): RevokedEntry[] {
  return Array.from({ length: n }, () => ({
    serial: randomSerial(rng),
    revokedAt: randomSeconds(rng),
    reasonCode: rng.int(0, 6),
    invalidityDate: rng.next() < 0.3 ? randomSeconds(rng) : null,
  }));
}
