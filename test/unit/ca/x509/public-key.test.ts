import assert from "node:assert/strict";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { CaError } from "../../../../ca/errors.js";
import { keySpecLabel, publicKeySpec } from "../../../../ca/x509/public-key.js";
import { MemorySigner } from "../../../../hsm/memory-signer.js";

const spkiOf = (k: KeyObject): Uint8Array => new Uint8Array(k.export({ type: "spki", format: "der" }));

describe("ca/x509/public-key", () => {
  it("describes supported keys and refuses others", () => {
    assert.equal(keySpecLabel(publicKeySpec(MemorySigner.generate({ type: "ec", curve: "P-256" }).publicKey)), "P-256");
    assert.equal(keySpecLabel(publicKeySpec(MemorySigner.generate({ type: "ec", curve: "P-384" }).publicKey)), "P-384");
    assert.deepEqual(publicKeySpec(spkiOf(generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey)), { type: "rsa", bits: 2048 });
    const unprocessable = (e: unknown): boolean => e instanceof CaError && e.kind === "unprocessable";
    assert.throws(() => publicKeySpec(spkiOf(generateKeyPairSync("ec", { namedCurve: "P-521" }).publicKey)), unprocessable);
    assert.throws(() => publicKeySpec(spkiOf(generateKeyPairSync("ed25519").publicKey)), unprocessable);
    assert.throws(() => publicKeySpec(spkiOf(generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey)), unprocessable);
    assert.throws(() => publicKeySpec(Uint8Array.of(0x30, 0)), CaError);
  });
});
