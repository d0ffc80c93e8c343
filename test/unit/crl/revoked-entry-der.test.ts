import assert from "node:assert/strict";
import { CaError } from "../../../ca/errors.js";
import { RevokedEntryWriter, revokedEntryDer, type RevokedEntry } from "../../../crl/revoked-entry-der.js";
import { SeededRandom } from "../../support/end-entity-fixtures.js";
import { pkijsEntryDer, randomSeconds, randomSerial } from "../../support/crl-fixtures.js";

const hex = (b: Uint8Array | ArrayBuffer): string => Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b).toString("hex");

describe("crl/revoked-entry-der", () => {
  it("equals pkijs RevokedCertificate byte for byte over 5,000 random entries", () => {
    const rng = new SeededRandom(5280);
    for (let i = 0; i < 5000; i++) {
      const entry: RevokedEntry = {
        serial: randomSerial(rng),
        revokedAt: randomSeconds(rng),
        reasonCode: rng.pick([0, 1, 2, 3, 4, 5, 6, 8]),
        invalidityDate: rng.next() < 0.4 ? randomSeconds(rng) : null,
      };
      assert.equal(hex(revokedEntryDer(entry)), hex(pkijsEntryDer(entry)), `case ${i}: ${JSON.stringify(entry)}`);
    }
  });

  it("writes many entries back to back in one page, growing its buffer", () => {
    const rng = new SeededRandom(7);
    const writer = new RevokedEntryWriter(100);
    const expected: string[] = [];
    for (let i = 0; i < 300; i++) {
      const e: RevokedEntry = { serial: randomSerial(rng), revokedAt: randomSeconds(rng), reasonCode: rng.int(0, 6), invalidityDate: null };
      writer.write(e);
      expected.push(hex(pkijsEntryDer(e)));
    }
    assert.equal(writer.entries, 300);
    assert.equal(hex(writer.take()), expected.join(""));
    assert.equal(writer.length, 0);
  });

  it("omits crlEntryExtensions entirely for an unspecified reason without invalidity date", () => {
    const der = revokedEntryDer({ serial: "01ab", revokedAt: 1_795_000_000, reasonCode: 0, invalidityDate: null });
    // 1795000000 = 2026-11-18T11:06:40Z
    assert.equal(hex(der), "3013" + "020201ab" + "170d" + Buffer.from("261118110640Z").toString("hex"));
  });

  it("writes a hold as reasonCode certificateHold (6)", () => {
    const der = revokedEntryDer({ serial: "7f", revokedAt: 1_795_000_000, reasonCode: 6, invalidityDate: null });
    assert.ok(hex(der).endsWith("300a0603551d150403" + "0a0106"));
  });

  it("refuses what a CRL cannot carry", () => {
    const ok: RevokedEntry = { serial: "01", revokedAt: 0, reasonCode: 1, invalidityDate: null };
    const bad: Array<Partial<RevokedEntry>> = [
      { serial: "" },
      { serial: "0" },
      { serial: "80" }, // negative
      { serial: "0001" }, // redundant leading zero
      { serial: "00" }, // zero
      { serial: "zz" },
      { serial: "01".repeat(21) },
      { reasonCode: 7 },
      { reasonCode: 9 }, // 8 (removeFromCRL) is written for lifted phone holds: crl/released-entries.ts
      { reasonCode: -1 },
      { revokedAt: 1.5 },
      { revokedAt: 253402300800 },
      { invalidityDate: Number.NaN },
    ];
    for (const b of bad) assert.throws(() => revokedEntryDer({ ...ok, ...b }), CaError, JSON.stringify(b));
  });
});
