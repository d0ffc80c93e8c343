import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { DerReadError } from "../../../../ca/x509/der-reader.js";
import { ecSpki, plainKeyJwk, readPlainPublicKey, rsaSpki } from "../../../../ca/x509/subject-public-key.js";
import { corruptions, truncations } from "../../../support/der-mutations.js";

/**
 * Card keys are read from their SPKI and imported as JWK, and canonical SPKIs are written directly
 * (ca/x509/subject-public-key.ts), instead of node:crypto's DER import and export. Proven here against
 * node:crypto: byte-identical SPKIs over many keys, and over thousands of truncated and corrupted SPKIs
 * the direct read never takes a key node:crypto would refuse, and takes exactly the key it would read.
 */

const spkiOf = (k: KeyObject): Uint8Array => new Uint8Array(k.export({ type: "spki", format: "der" }));
const b = (s: string | undefined): Uint8Array => new Uint8Array(Buffer.from(s ?? "", "base64url"));

describe("subject public keys: direct SPKI read and write against node:crypto", function () {
  this.timeout(120_000);
  const keys: KeyObject[] = [];

  before(() => {
    for (let i = 0; i < 12; i++) keys.push(generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey);
    keys.push(generateKeyPairSync("rsa", { modulusLength: 3072 }).publicKey);
    keys.push(generateKeyPairSync("rsa", { modulusLength: 4096 }).publicKey);
    keys.push(generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 3 }).publicKey);
    keys.push(generateKeyPairSync("rsa", { modulusLength: 2056 }).publicKey); // a modulus not a whole number of octets
    for (let i = 0; i < 20; i++) keys.push(generateKeyPairSync("ec", { namedCurve: i % 2 ? "prime256v1" : "secp384r1" }).publicKey);
  });

  it("writes the SPKI node:crypto exports, byte for byte (RSA 2048–4096, e = 3 and 65537; P-256, P-384)", () => {
    for (const k of keys) {
      const jwk = k.export({ format: "jwk" });
      const ours = jwk.kty === "RSA" ? rsaSpki(b(jwk.n), b(jwk.e)) : ecSpki(jwk.crv as "P-256" | "P-384", b(jwk.x), b(jwk.y));
      assert.deepEqual(Buffer.from(ours).toString("hex"), Buffer.from(spkiOf(k)).toString("hex"), `${jwk.kty} ${jwk.crv ?? ""}`);
    }
  });

  it("reads the plain forms back to the same key", () => {
    for (const k of keys) {
      const plain = readPlainPublicKey(spkiOf(k));
      assert.ok(plain, "a plain form");
      assert.deepEqual(spkiOf(createPublicKey({ key: plainKeyJwk(plain), format: "jwk" })), spkiOf(k));
    }
  });

  it("leaves other forms to node:crypto: a compressed point, RSA without NULL parameters, other algorithms", () => {
    const p256 = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey;
    const spki = spkiOf(p256);
    const compressed = new Uint8Array(createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" }).export({ type: "spki", format: "der" }));
    compressed[compressed.length - 65] = 0x04; // still uncompressed: sanity of the index below
    assert.ok(readPlainPublicKey(compressed));
    const jwk = p256.export({ format: "jwk" });
    const y = b(jwk.y);
    const point = new Uint8Array([y[y.length - 1]! & 1 ? 0x03 : 0x02, ...b(jwk.x)]);
    const compressedSpki = new Uint8Array([0x30, 0x39, ...spki.subarray(2, 2 + 0x15), 0x03, 0x22, 0x00, ...point]);
    assert.equal(readPlainPublicKey(compressedSpki), undefined);
    assert.deepEqual(createPublicKey({ key: Buffer.from(compressedSpki), format: "der", type: "spki" }).export({ format: "jwk" }), jwk, "node reads it (fallback)");
    const ed = spkiOf(generateKeyPairSync("ed25519").publicKey);
    assert.equal(readPlainPublicKey(ed), undefined);
    const rsa = spkiOf(keys[0]!);
    const withoutNull = new Uint8Array([0x30, 0x82, ...[(rsa.length - 6) >> 8, (rsa.length - 6) & 0xff], 0x30, 0x0b, ...rsa.subarray(6, 17), ...rsa.subarray(19)]);
    assert.equal(readPlainPublicKey(withoutNull), undefined);
  });

  it("never takes a corrupted or truncated key node:crypto refuses, and takes exactly the key it reads", () => {
    const corpus = [spkiOf(keys[0]!), spkiOf(keys[keys.length - 1]!), spkiOf(keys[keys.length - 2]!)];
    const inputs: Uint8Array[] = [];
    inputs.push(...truncations(corpus));
    // DER that OpenSSL reads anyway: a negative modulus, a non-minimal exponent (node:crypto takes them).
    const rsa = Buffer.from(corpus[0]!);
    const at = rsa.indexOf(Buffer.from([0x02, 0x82, 0x01, 0x01, 0x00]));
    const negative = Buffer.from(rsa);
    negative[at + 4] = 0x80;
    inputs.push(new Uint8Array(negative));
    const e = rsa.lastIndexOf(Buffer.from([0x02, 0x03, 0x01, 0x00, 0x01]));
    const padded = Buffer.concat([rsa.subarray(0, e), Buffer.from([0x02, 0x04, 0x00, 0x01, 0x00, 0x01])]);
    for (const [prefix, grown] of [[[0x30, 0x82, 0x01, 0x22], 0x23], [[0x03, 0x82, 0x01, 0x0f], 0x10], [[0x30, 0x82, 0x01, 0x0a], 0x0b]] as const) {
      padded[padded.indexOf(Buffer.from(prefix)) + 3] = grown;
    }
    inputs.push(new Uint8Array(padded));
    inputs.push(...corruptions(corpus, { count: 4000, maxFlips: 1, headBytes: 30, headOneIn: 3 }));
    let same = 0;
    let fallback = 0;
    let stricter = 0;
    for (const der of inputs) {
      let node: Uint8Array | undefined;
      try {
        node = spkiOf(createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" }));
      } catch {
        node = undefined;
      }
      let plain;
      try {
        plain = readPlainPublicKey(der);
      } catch (e) {
        assert.ok(e instanceof DerReadError);
        stricter++;
        continue;
      }
      if (plain === undefined) {
        fallback++;
        continue;
      }
      let ours: Uint8Array | undefined;
      try {
        ours = spkiOf(createPublicKey({ key: plainKeyJwk(plain), format: "jwk" }));
      } catch {
        ours = undefined;
      }
      const hex = Buffer.from(der).toString("hex");
      if (ours !== undefined) {
        assert.ok(node, `taken directly, refused by node:crypto: ${hex}`);
        assert.deepEqual(ours, node, hex);
        same++;
      } else {
        assert.equal(node, undefined, `refused directly, read by node:crypto: ${hex}`);
      }
    }
    assert.ok(same > 100 && fallback + stricter > 100, `${same} read the same, ${fallback} left to node:crypto, ${stricter} not DER`);
  });
});
