import assert from "node:assert/strict";
import { createPublicKey, randomBytes, verify, type KeyObject } from "node:crypto";
import { defaultAlgorithm, signatureHash } from "../../ca/profiles/algorithms.js";
import type { Signer } from "../../ca/ports.js";
import type { KeySpec } from "../../ca/types.js";

/** Key types every Signer adapter must handle. */
export const contractKeySpecs: ReadonlyArray<{ name: string; spec: KeySpec }> = [
  { name: "RSA-2048", spec: { type: "rsa", bits: 2048 } },
  { name: "P-256", spec: { type: "ec", curve: "P-256" } },
  { name: "P-384", spec: { type: "ec", curve: "P-384" } },
];

/**
 * Strict DER check of an ECDSA-Sig-Value (RFC 3279 §2.2.3, X.690 §10): SEQUENCE of exactly two
 * INTEGERs, minimal lengths, minimal positive integers, nothing after. Written independently of
 * hsm/ecdsa-signature.ts on purpose. Returns r and s.
 */
export function parseEcdsaSigValueStrict(der: Uint8Array, orderBytes: number): { r: bigint; s: bigint } {
  let p = 0;
  const byte = (): number => {
    const b = der[p++];
    assert.notEqual(b, undefined, "truncated DER");
    return b as number;
  };
  const length = (): number => {
    const first = byte();
    if (first < 0x80) return first;
    assert.equal(first, 0x81, "only the one-byte long form is possible for these sizes");
    const len = byte();
    assert.ok(len >= 0x80, "long form used for a length below 128");
    return len;
  };
  assert.equal(byte(), 0x30, "ECDSA-Sig-Value must be a SEQUENCE");
  const seqLen = length();
  assert.equal(p + seqLen, der.length, "SEQUENCE length must cover exactly the rest");
  const ints: bigint[] = [];
  for (let i = 0; i < 2; i++) {
    assert.equal(byte(), 0x02, "expected INTEGER");
    const len = length();
    assert.ok(len >= 1 && p + len <= der.length, "bad INTEGER length");
    const v = der.subarray(p, p + len);
    p += len;
    assert.equal((v[0] as number) & 0x80, 0, "INTEGER must be positive");
    if (len > 1) assert.ok(v[0] !== 0 || ((v[1] as number) & 0x80) !== 0, "INTEGER not minimally encoded");
    const value = BigInt("0x" + Buffer.from(v).toString("hex"));
    assert.ok(value > 0n, "r and s must be > 0");
    assert.ok(value < 1n << BigInt(orderBytes * 8), "r or s larger than the curve order size");
    ints.push(value);
  }
  assert.equal(p, der.length, "trailing bytes after ECDSA-Sig-Value");
  return { r: ints[0] as bigint, s: ints[1] as bigint };
}

/**
 * The Signer contract, run against every adapter (MemorySigner in unit tests, Pkcs11Signer on
 * SoftHSM in integration tests). `makeSigner(spec)` returns a signer for a fresh key of that spec
 * using the default algorithm for it.
 */
export function signerContract(
  name: string,
  makeSigner: (spec: KeySpec) => Promise<Signer>,
  /** The key types this adapter's token can make (opencryptoki 3.8.1: RSA only, docs/hsm-vendors.md). */
  keySpecs: ReadonlyArray<{ name: string; spec: KeySpec }> = contractKeySpecs,
): void {
  describe(`Signer contract: ${name}`, function () {
    for (const { name: keyName, spec } of keySpecs) {
      describe(keyName, function () {
        let signer: Signer;
        let key: KeyObject;
        const algorithm = defaultAlgorithm(spec);
        const hash = signatureHash[algorithm];
        const check = (data: Uint8Array, signature: Uint8Array): boolean =>
          verify(hash, data, { key, dsaEncoding: "der" }, signature);

        before(async function () {
          signer = await makeSigner(spec);
          key = createPublicKey({ key: Buffer.from(signer.publicKey), format: "der", type: "spki" });
        });

        it(`reports ${algorithm}`, function () {
          assert.equal(signer.algorithm, algorithm);
        });

        it("publishes a SubjectPublicKeyInfo of the right type and size", function () {
          if (spec.type === "rsa") {
            assert.equal(key.asymmetricKeyType, "rsa");
            assert.equal(key.asymmetricKeyDetails?.modulusLength, spec.bits);
            assert.equal(key.asymmetricKeyDetails?.publicExponent, 65537n);
          } else {
            assert.equal(key.asymmetricKeyType, "ec");
            assert.equal(key.asymmetricKeyDetails?.namedCurve, spec.curve === "P-256" ? "prime256v1" : "secp384r1");
          }
          // DER round trip: what we publish is exactly node's canonical SPKI encoding.
          assert.deepEqual(new Uint8Array(key.export({ type: "spki", format: "der" })), new Uint8Array(signer.publicKey));
        });

        it("signs the message (not a digest): node:crypto verifies, and rejects other data", async function () {
          const data = randomBytes(1200);
          const signature = await signer.sign(data);
          assert.ok(check(data, signature), "signature must verify");
          const other = Buffer.from(data);
          other[0] = (other[0] as number) ^ 1;
          assert.ok(!check(other, signature), "signature must not verify for other data");
        });

        it("signs empty and 1 MiB messages", async function () {
          for (const data of [new Uint8Array(0), randomBytes(1 << 20)]) {
            assert.ok(check(data, await signer.sign(data)));
          }
        });

        it("signs a Uint8Array view into a larger buffer (offset respected)", async function () {
          const backing = randomBytes(300);
          const view = new Uint8Array(backing.buffer, backing.byteOffset + 17, 200);
          assert.ok(check(Buffer.from(view), await signer.sign(view)));
        });

        if (spec.type === "ec") {
          it("returns a well-formed DER ECDSA-Sig-Value", async function () {
            const size = spec.curve === "P-256" ? 32 : 48;
            for (let i = 0; i < 20; i++) {
              const signature = await signer.sign(randomBytes(64));
              parseEcdsaSigValueStrict(signature, size);
            }
          });
        } else {
          it("returns a PKCS#1 v1.5 signature as long as the modulus", async function () {
            const signature = await signer.sign(randomBytes(64));
            assert.equal(signature.length, spec.bits / 8);
          });
        }

        it("signs 50 messages concurrently, every signature verifies", async function () {
          const messages = Array.from({ length: 50 }, (_, i) => Buffer.from(`message ${i} ${randomBytes(8).toString("hex")}`));
          const signatures = await Promise.all(messages.map((m) => signer.sign(m)));
          messages.forEach((m, i) => assert.ok(check(m, signatures[i] as Uint8Array), `signature ${i} must verify`));
        });
      });
    }
  });
}
