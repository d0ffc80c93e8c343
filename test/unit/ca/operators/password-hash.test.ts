import assert from "node:assert/strict";
import { randomBytes, scryptSync } from "node:crypto";
import { CaError } from "../../../../ca/errors.js";
import { defaultScryptParams, ScryptPasswordHasher } from "../../../../ca/operators/password-hash.js";
import type { Random } from "../../../../ca/ports.js";

const random: Random = { bytes: (n) => new Uint8Array(randomBytes(n)) };

describe("ca/password-hash (scrypt)", function () {
  this.timeout(30_000);
  const hasher = new ScryptPasswordHasher(random);

  it("encodes scrypt$N$r$p$salt$hash with N=2^15 r=8 p=1, a 16-byte salt and a 32-byte hash", async () => {
    const encoded = await hasher.hash("Kq7#mZp2xW9v");
    const [alg, N, r, p, salt, hash, ...rest] = encoded.split("$");
    assert.deepEqual([alg, N, r, p, rest.length], ["scrypt", "32768", "8", "1", 0]);
    assert.equal(Buffer.from(salt!, "base64").length, 16);
    assert.equal(Buffer.from(hash!, "base64").length, 32);
    // Interoperable: the same as node's scryptSync over the same inputs.
    const expected = scryptSync("Kq7#mZp2xW9v", Buffer.from(salt!, "base64"), 32, { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
    assert.equal(Buffer.from(hash!, "base64").equals(expected), true);
    assert.deepEqual(defaultScryptParams, { N: 32768, r: 8, p: 1 });
  });

  it("verifies the right password only; salts differ between hashes", async () => {
    const a = await hasher.hash("Kq7#mZp2xW9v");
    const b = await hasher.hash("Kq7#mZp2xW9v");
    assert.notEqual(a, b);
    assert.equal(await hasher.verify("Kq7#mZp2xW9v", a), true);
    assert.equal(await hasher.verify("Kq7#mZp2xW9w", a), false);
    assert.equal(await hasher.verify("", a), false);
  });

  it("verifies the full-width form of the same password (NFKC)", async () => {
    const cheap = new ScryptPasswordHasher(random, { N: 1024, r: 8, p: 1 });
    const h = await cheap.hash("Kq7#mZp2xW9v");
    assert.equal(await cheap.verify("Ｋｑ７＃ｍＺｐ２ｘＷ９ｖ", h), true);
  });

  it("reads the parameters from the stored hash and flags old ones for rehash", async () => {
    const cheap = new ScryptPasswordHasher(random, { N: 1024, r: 8, p: 1 });
    const h = await cheap.hash("Kq7#mZp2xW9v");
    assert.equal(await hasher.verify("Kq7#mZp2xW9v", h), true);
    assert.equal(hasher.needsRehash(h), true);
    assert.equal(cheap.needsRehash(h), false);
  });

  it("refuses malformed or extravagant stored hashes without trying them", async () => {
    const salt = randomBytes(16).toString("base64");
    const hash = randomBytes(32).toString("base64");
    for (const bad of ["", "bcrypt$x", `scrypt$1000$8$1$${salt}$${hash}`, `scrypt$${2 ** 24}$8$1$${salt}$${hash}`, `scrypt$1024$8$1$$${hash}`, `scrypt$1024$8$1$${salt}$`]) {
      assert.equal(await hasher.verify("Kq7#mZp2xW9v", bad), false, bad.slice(0, 20));
    }
    assert.throws(() => new ScryptPasswordHasher(random, { N: 1000, r: 8, p: 1 }), CaError);
  });
});
