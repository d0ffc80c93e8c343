import assert from "node:assert/strict";
import { CaError } from "../../../../ca/errors.js";
import { serialNumberInteger, serialValue } from "../../../../ca/x509/serial-number.js";

const contentHex = (serial: bigint | string): string => Buffer.from(serialNumberInteger(serial).valueBlock.valueHexView).toString("hex");

describe("ca/x509/serial-number", () => {
  it("accepts positive bigints up to 20 content octets, padding a set top bit", () => {
    assert.equal(contentHex(1n), "01");
    assert.equal(contentHex(0x80n), "0080");
    assert.equal(contentHex(2n ** 159n - 1n), "7f" + "ff".repeat(19));
    assert.throws(() => serialValue(2n ** 159n), CaError); // 0x00 + 20 octets = 21
    assert.throws(() => serialValue(0n), CaError);
    assert.throws(() => serialValue(-1n), CaError);
  });

  it("accepts the lower-case hex of ca/issuance/serial.ts and encodes exactly those octets", () => {
    const hex = "2a" + "0123456789abcdef0123456789abcd";
    assert.equal(contentHex(hex), hex);
    assert.equal(serialValue(hex), BigInt(`0x${hex}`));
    assert.equal(contentHex("00ab"), "00ab", "a set top bit needs the 00 octet, so this one is minimal");
    for (const bad of ["", "0", "0001", "80", "ABCD", "0x12", "12 34", "ff".repeat(21), "00"]) {
      assert.throws(() => serialValue(bad), CaError, JSON.stringify(bad));
    }
  });
});
