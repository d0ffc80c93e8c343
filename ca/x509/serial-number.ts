import * as asn1js from "asn1js";
import { CaError } from "../errors.js";
import { integerContent } from "./der.js";

/**
 * Certificate serial numbers as they go into a TBS (RFC 5280 §4.1.2.2): a positive INTEGER of at most
 * 20 content octets. Generating them (≥ 64 CSPRNG bits, a prefix byte per CA generation: docs/design.md
 * invariant 2) is ca/issuance/serial.ts's job; this only refuses values the RFC forbids.
 *
 * A serial is given as a bigint or as lower-case hex of the INTEGER's content octets (the form
 * ca/issuance/serial.ts generates and docs/api.md §0 uses), which must then be minimal (no redundant 00 octet).
 */
export type SerialInput = bigint | string;

const bad = (why: string): CaError => new CaError("invalid-input", `serial number ${why} (RFC 5280 §4.1.2.2)`, { field: "serial" });

/** The serial as a bigint, validated. */
export function serialValue(serial: SerialInput): bigint {
  let value: bigint;
  if (typeof serial === "string") {
    if (!/^[0-9a-f]{2,40}$/.test(serial) || serial.length % 2 !== 0) throw bad("must be lower-case hex octets");
    value = BigInt(`0x${serial}`);
    if (Buffer.from(integerContent(value)).toString("hex") !== serial) throw bad("must be a minimal positive INTEGER");
  } else if (typeof serial === "bigint") {
    value = serial;
  } else {
    throw bad("must be a bigint or hex");
  }
  if (value <= 0n) throw bad("must be positive");
  if (integerContent(value).length > 20) throw bad("must be at most 20 octets");
  return value;
}

/** Throws CaError "invalid-input" unless `serial` is a positive INTEGER of at most 20 octets. */
export function assertSerialNumber(serial: SerialInput): void {
  serialValue(serial);
}

/**
 * The asn1js INTEGER of a serial. `Integer.fromBigInt` adds the 0x00 octet a value with its top bit set
 * needs (`new Integer({ valueHex })` would make it negative: docs/traps.md §3 trap 6).
 */
export function serialNumberInteger(serial: SerialInput): asn1js.Integer {
  return asn1js.Integer.fromBigInt(serialValue(serial));
}
