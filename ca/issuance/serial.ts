import { CaError } from "../errors.js";
import type { Random } from "../ports.js";
import { sha256 } from "../sha256.js";

/**
 * Certificate serial numbers (docs/design.md invariant 2; RFC 5280 §4.1.2.2: positive, ≤ 20 octets;
 * CA/B BR §7.1: ≥ 64 bits from a CSPRNG).
 *
 * Layout: 1 prefix octet (the CA generation's `serialPrefix`, 1–127) followed by 15 octets from
 * the injected Random: 16 octets, 120 random bits, written as 32 lower-case hex digits.
 * Because the first octet is 0x01–0x7F, the DER INTEGER is positive without a 0x00 pad and has no
 * redundant leading octet, so the hex string is exactly the INTEGER's content octets
 * (`asn1js.Integer({ valueHex })` encodes it as-is; docs/traps.md §3 trap 6).
 */

/** Random octets after the prefix. */
export const SERIAL_RANDOM_OCTETS = 15;
/** Total octets of a serial made here. */
export const SERIAL_OCTETS = 1 + SERIAL_RANDOM_OCTETS;

/** True for a valid prefix byte: 1–127 (0 would make a leading zero octet, ≥ 128 a negative INTEGER). */
export function isSerialPrefix(prefix: number): boolean {
  return Number.isInteger(prefix) && prefix >= 1 && prefix <= 0x7f;
}

/** A new serial: prefix byte + 15 random octets, lower-case hex. */
export function generateSerial(prefix: number, random: Random): string {
  if (!isSerialPrefix(prefix)) throw new RangeError("serial prefix must be an integer from 1 to 127");
  const bytes = random.bytes(SERIAL_RANDOM_OCTETS);
  if (bytes.length !== SERIAL_RANDOM_OCTETS) throw new CaError("internal", "Random returned the wrong number of bytes");
  return Buffer.concat([Uint8Array.of(prefix), bytes]).toString("hex");
}

/**
 * The content octets of a serial given as lower-case hex (any serial this CA could have issued:
 * 1–20 octets, positive, minimally encoded). Throws CaError("invalid-input", field) otherwise.
 */
export function serialOctets(serialHex: string, field = "serial"): Uint8Array {
  const bad = (): CaError =>
    new CaError("invalid-input", `${field} must be a positive serial number in lower-case hex, at most 20 octets`, { field });
  if (!/^(?:[0-9a-f]{2}){1,20}$/.test(serialHex)) throw bad();
  const octets = new Uint8Array(Buffer.from(serialHex, "hex"));
  const first = octets[0]!;
  if (first >= 0x80) throw bad(); // negative INTEGER
  if (first === 0 && (octets.length === 1 || octets[1]! < 0x80)) throw bad(); // zero, or a redundant leading 0x00
  return octets;
}

/** The prefix byte (CA generation) of a serial made by generateSerial. */
export function serialPrefixOf(serialHex: string): number {
  return serialOctets(serialHex)[0]!;
}

/**
 * The CRL partition of a serial, in [0, partitionCount): the first 8 octets of SHA-256 over the
 * serial's content octets, as an unsigned big-endian integer, modulo partitionCount.
 * Stable forever: it depends only on the serial's octets and the generation's partition count,
 * which never changes (docs/domain.md §4); the hash spreads serials evenly whatever their layout
 * (modulo bias ≤ partitionCount / 2^64).
 */
export function partitionOf(serialHex: string, partitionCount: number): number {
  if (!Number.isInteger(partitionCount) || partitionCount < 1 || partitionCount > 0x7fffffff) {
    throw new RangeError("partitionCount must be an integer from 1 to 2^31 - 1");
  }
  const digest = sha256(serialOctets(serialHex));
  return Number(new DataView(digest.buffer, digest.byteOffset, 8).getBigUint64(0) % BigInt(partitionCount));
}
