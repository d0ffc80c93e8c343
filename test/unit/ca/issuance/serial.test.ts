import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import * as asn1js from "asn1js";
import { CaError } from "../../../../ca/errors.js";
import type { Random } from "../../../../ca/ports.js";
import { generateSerial, partitionOf, serialOctets, serialPrefixOf } from "../../../../ca/issuance/serial.js";

/** Deterministic Random for tests: SHA-256 of a seed and a counter. */
function seededRandom(seed: string): Random {
  let counter = 0;
  return {
    bytes(n: number): Uint8Array {
      const out = Buffer.alloc(n);
      for (let off = 0; off < n; off += 32) createHash("sha256").update(`${seed}:${counter++}`).digest().copy(out, off);
      return new Uint8Array(out);
    },
  };
}

const allOnes: Random = { bytes: (n) => new Uint8Array(n).fill(0xff) };
const allZeros: Random = { bytes: (n) => new Uint8Array(n) };

describe("serial", () => {
  const prefixes = [1, 2, 0x40, 0x7f];
  for (const prefix of prefixes) {
    for (const [name, random] of [["all-ones", allOnes], ["all-zeros", allZeros], ["seeded", seededRandom("p")]] as const) {
      it(`prefix ${prefix}, ${name} random: 16 octets, positive, minimal DER INTEGER`, () => {
        const hex = generateSerial(prefix, random);
        assert.match(hex, /^[0-9a-f]{32}$/);
        assert.equal(serialPrefixOf(hex), prefix);
        const int = asn1js.Integer.fromBigInt(BigInt(`0x${hex}`));
        const content = Buffer.from(int.valueBlock.valueHexView).toString("hex");
        assert.equal(content, hex, "the hex is exactly the INTEGER's content octets");
        assert.ok(int.valueBlock.valueHexView.length <= 20);
        assert.ok(int.toBigInt() > 0n);
      });
    }
  }

  it("takes the random part from the injected Random", () => {
    assert.equal(generateSerial(5, allOnes), "05" + "ff".repeat(15));
    assert.equal(generateSerial(5, seededRandom("x")), generateSerial(5, seededRandom("x")));
    assert.notEqual(generateSerial(5, { bytes: randomBytes }), generateSerial(5, { bytes: randomBytes }));
  });

  for (const bad of [0, 128, 255, -1, 1.5]) {
    it(`refuses prefix ${bad}`, () => assert.throws(() => generateSerial(bad, allOnes), RangeError));
  }

  it("refuses a Random that returns too few bytes", () => {
    assert.throws(() => generateSerial(1, { bytes: (n) => new Uint8Array(n - 1) }), (e: unknown) => e instanceof CaError && e.kind === "internal");
  });

  const octetCases: [string, boolean][] = [
    ["01", true],
    ["7f" + "00".repeat(19), true],
    ["00ff", true], // 0x00 pad needed before 0xff
    ["0f", true],
    ["00", false], // zero
    ["0001", false], // redundant leading zero
    ["80", false], // negative
    ["ff01", false],
    ["01" + "00".repeat(20), false], // 21 octets
    ["0A", false], // upper case
    ["abc", false], // odd length
    ["", false],
  ];
  for (const [hex, ok] of octetCases) {
    it(`serialOctets(${JSON.stringify(hex)}) ${ok ? "accepts" : "refuses"}`, () => {
      if (ok) assert.equal(Buffer.from(serialOctets(hex)).toString("hex"), hex);
      else assert.throws(() => serialOctets(hex, "serial"), (e: unknown) => e instanceof CaError && e.kind === "invalid-input" && e.field === "serial");
    });
  }
});

describe("partitionOf", () => {
  it("is deterministic and pinned (changing the function would move certificates between CRLs)", () => {
    const golden: [string, number[]][] = [
      ["01" + "00".repeat(15), [0, 17, 4]],
      ["0a1b2c", [1, 26, 1674]],
      ["7f" + "ff".repeat(15), [6, 7, 720]],
    ];
    for (const [hex, parts] of golden) assert.deepEqual([7, 64, 1741].map((c) => partitionOf(hex, c)), parts);
    // The documented rule: SHA-256(octets)[0..8] as big-endian unsigned, mod count.
    for (const hex of ["01" + "00".repeat(15), "0a1b2c", "7f" + "ff".repeat(15)]) {
      for (const count of [1, 7, 64, 1741]) {
        const d = createHash("sha256").update(Buffer.from(hex, "hex")).digest();
        assert.equal(partitionOf(hex, count), Number(d.readBigUInt64BE(0) % BigInt(count)));
      }
    }
    assert.equal(partitionOf("01" + "00".repeat(15), 1), 0);
  });

  it("spreads serials roughly uniformly (chi-square, 16 partitions, 16000 serials)", () => {
    const count = 16;
    const n = 16_000;
    const buckets = new Array<number>(count).fill(0);
    const random = seededRandom("uniform");
    for (let i = 0; i < n; i++) {
      const p = partitionOf(generateSerial(3, random), count);
      assert.ok(p >= 0 && p < count && Number.isInteger(p));
      buckets[p]!++;
    }
    const expected = n / count;
    const chi2 = buckets.reduce((s, b) => s + (b - expected) ** 2 / expected, 0);
    // 15 degrees of freedom: P(chi2 > 37.7) ≈ 0.001.
    assert.ok(chi2 < 37.7, `chi-square ${chi2.toFixed(1)} buckets ${buckets.join(",")}`);
    for (const b of buckets) assert.ok(Math.abs(b - expected) < expected * 0.15);
  });

  it("spreads sequential-looking serials too (the hash, not the low bits, decides)", () => {
    const count = 8;
    const buckets = new Array<number>(count).fill(0);
    for (let i = 0; i < 8000; i++) buckets[partitionOf("01" + (i * count).toString(16).padStart(30, "0"), count)]!++;
    for (const b of buckets) assert.ok(Math.abs(b - 1000) < 150, buckets.join(","));
  });

  for (const bad of [0, -1, 2.5, 2 ** 31]) {
    it(`refuses partitionCount ${bad}`, () => assert.throws(() => partitionOf("01", bad), RangeError));
  }
});
