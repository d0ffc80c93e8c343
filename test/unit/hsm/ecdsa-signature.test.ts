import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes, sign, verify } from "node:crypto";
import { ecdsaDerToRaw, ecdsaRawToDer } from "../../../hsm/ecdsa-signature.js";
import { parseEcdsaSigValueStrict } from "../../contract/signer.js";

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ""), "hex"));

describe("hsm/ecdsa-signature", function () {
  it("encodes small r and s minimally", function () {
    assert.deepEqual(ecdsaRawToDer(hex("0001 0002")), hex("3006 020101 020102"));
  });

  it("prefixes 0x00 when the high bit is set and strips leading zeros", function () {
    const raw = hex("80" + "00".repeat(31) + "00007f" + "11".repeat(29));
    const der = ecdsaRawToDer(raw);
    assert.deepEqual(der.subarray(0, 6), hex("3043 0221 0080"));
    assert.deepEqual(ecdsaDerToRaw(der, 32), raw);
    parseEcdsaSigValueStrict(der, 32);
  });

  it("uses the long length form when the body reaches 128 bytes (P-384 worst case stays short)", function () {
    const p384 = ecdsaRawToDer(new Uint8Array(96).fill(0xff));
    assert.equal(p384[1], 2 * (2 + 49)); // 102 < 128: short form
    const p521 = ecdsaRawToDer(new Uint8Array(132).fill(0xff));
    assert.deepEqual(p521.subarray(0, 3), hex("3081 8a"));
  });

  it("matches node:crypto's DER for real P-256 and P-384 signatures", function () {
    for (const [curve, size, hash] of [["P-256", 32, "sha256"], ["P-384", 48, "sha384"]] as const) {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: curve });
      for (let i = 0; i < 50; i++) {
        const data = randomBytes(100);
        const raw = sign(hash, data, { key: privateKey, dsaEncoding: "ieee-p1363" });
        assert.equal(raw.length, 2 * size);
        const der = ecdsaRawToDer(raw);
        assert.ok(verify(hash, data, { key: publicKey, dsaEncoding: "der" }, der));
        assert.deepEqual(ecdsaDerToRaw(der, size), new Uint8Array(raw));
      }
    }
  });

  it("refuses bad raw input", function () {
    assert.throws(() => ecdsaRawToDer(new Uint8Array(0)), /r\|\|s/);
    assert.throws(() => ecdsaRawToDer(new Uint8Array(63)), /r\|\|s/);
    assert.throws(() => ecdsaRawToDer(new Uint8Array(64)), /zero/);
  });

  it("refuses non-DER input when decoding", function () {
    assert.throws(() => ecdsaDerToRaw(hex("3006 020101 020102 00"), 32), /length does not match|trailing/);
    assert.throws(() => ecdsaDerToRaw(hex("3007 02020001 020102"), 32), /non-minimal INTEGER/);
    assert.throws(() => ecdsaDerToRaw(hex("3006 020181 020102"), 32), /negative/);
    assert.throws(() => ecdsaDerToRaw(hex("3106 020101 020102"), 32), /SEQUENCE/);
  });
});
