import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { CaError } from "../../../../ca/errors.js";
import {
  type SubjectKeyDescription,
  type SubjectKeyPolicy,
  checkSubjectPublicKey,
  defaultSubjectKeyPolicy,
} from "../../../../ca/profiles/subject-key-policy.js";
import { closePrimeModulus, modulusOf, smallFactorModulus } from "../../../support/weak-key-fixtures.js";

type Gen = () => Uint8Array;
const spki = (pair: { publicKey: import("node:crypto").KeyObject }): Uint8Array => new Uint8Array(pair.publicKey.export({ type: "spki", format: "der" }));
const rsa = (bits: number, publicExponent = 65537): Gen => () => spki(generateKeyPairSync("rsa", { modulusLength: bits, publicExponent }));
const ec = (namedCurve: string): Gen => () => spki(generateKeyPairSync("ec", { namedCurve }));

const FIELD = "requests[1].csr";

describe("subject-key-policy", () => {
  const accepted: [string, Gen, SubjectKeyPolicy, SubjectKeyDescription][] = [
    ["RSA-2048 e=65537", rsa(2048), defaultSubjectKeyPolicy, { type: "rsa", bits: 2048, exponent: 65537 }],
    ["P-256", ec("prime256v1"), defaultSubjectKeyPolicy, { type: "ec", curve: "P-256" }],
    ["P-384", ec("secp384r1"), defaultSubjectKeyPolicy, { type: "ec", curve: "P-384" }],
    ["P-384 under an EC-only profile", ec("secp384r1"), { rsa: null, ec: ["P-384"] }, { type: "ec", curve: "P-384" }],
  ];
  for (const [what, gen, policy, expected] of accepted) {
    it(`accepts ${what}`, () => assert.deepEqual(checkSubjectPublicKey(gen(), policy, FIELD), expected));
  }

  const refused: [string, Gen, SubjectKeyPolicy, CaError["kind"]][] = [
    ["RSA-1024", rsa(1024), defaultSubjectKeyPolicy, "unprocessable"],
    ["RSA-2040 (just under 2048)", rsa(2040), defaultSubjectKeyPolicy, "unprocessable"],
    ["RSA-2048 with e=3", rsa(2048, 3), defaultSubjectKeyPolicy, "unprocessable"],
    ["RSA-2056 over a profile maximum of 2048", rsa(2056), { rsa: { minBits: 2048, maxBits: 2048, exponent: 65537 }, ec: [] }, "unprocessable"],
    ["RSA under an EC-only profile", rsa(2048), { rsa: null, ec: ["P-384"] }, "unprocessable"],
    ["P-256 under a P-384-only profile", ec("prime256v1"), { rsa: null, ec: ["P-384"] }, "unprocessable"],
    ["P-521", ec("secp521r1"), defaultSubjectKeyPolicy, "unprocessable"],
    ["secp256k1", ec("secp256k1"), defaultSubjectKeyPolicy, "unprocessable"],
    ["Ed25519", () => spki(generateKeyPairSync("ed25519")), defaultSubjectKeyPolicy, "unprocessable"],
    ["X25519", () => spki(generateKeyPairSync("x25519")), defaultSubjectKeyPolicy, "unprocessable"],
    ["an RSA-PSS (id-RSASSA-PSS) key", () => spki(generateKeyPairSync("rsa-pss", { modulusLength: 2048 })), defaultSubjectKeyPolicy, "unprocessable"],
    ["garbled DER", () => new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), defaultSubjectKeyPolicy, "invalid-input"],
    ["truncated DER", () => rsa(2048)().slice(0, 100), defaultSubjectKeyPolicy, "invalid-input"],
    ["empty input", () => new Uint8Array(0), defaultSubjectKeyPolicy, "invalid-input"],
  ];
  for (const [what, gen, policy, kind] of refused) {
    it(`refuses ${what} (${kind})`, () =>
      assert.throws(() => checkSubjectPublicKey(gen(), policy, FIELD), (e: unknown) => e instanceof CaError && e.kind === kind && e.field === FIELD));
  }

  it("refuses an EC P-256 key encoded with explicit curve parameters (RFC 5480 §2.1.1)", () => {
    const pem = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ type: "spki", format: "pem" }) as string;
    const der = execFileSync("openssl", ["ec", "-pubin", "-pubout", "-outform", "DER", "-param_enc", "explicit"], { input: pem, stdio: ["pipe", "pipe", "ignore"] });
    assert.ok(der.length > 200, "openssl produced the explicit-parameter encoding");
    assert.throws(() => checkSubjectPublicKey(new Uint8Array(der), defaultSubjectKeyPolicy, FIELD), (e: unknown) => e instanceof CaError && e.kind === "unprocessable" && e.field === FIELD);
  });

  it("refuses trailing bytes after the SubjectPublicKeyInfo", () => {
    const der = ec("prime256v1")();
    const padded = new Uint8Array([...der, 0x00, 0x00]);
    assert.throws(() => checkSubjectPublicKey(padded, defaultSubjectKeyPolicy, FIELD), (e: unknown) => e instanceof CaError && e.kind === "invalid-input");
  });

  describe("weak RSA keys a card chip can produce (ca/profiles/weak-keys.ts, Boulder goodkey)", () => {
    /** The DER SPKI of an RSA public key with modulus n and e = 65537, as node:crypto writes it. */
    const rsaSpki = (n: bigint): Uint8Array => {
      const hexN = n.toString(16);
      const jwk = { kty: "RSA", n: Buffer.from(hexN.length % 2 ? `0${hexN}` : hexN, "hex").toString("base64url"), e: "AQAB" };
      return new Uint8Array(createPublicKey({ key: jwk, format: "jwk" }).export({ type: "spki", format: "der" }));
    };
    const refusedWith = (rule: RegExp) => (e: unknown) => e instanceof CaError && e.kind === "unprocessable" && e.field === FIELD && rule.test(e.message);

    it("refuses a ROCA-vulnerable key (CVE-2017-15361; rocacheck's test key), as sent and re-encoded", () => {
      const der = new Uint8Array(Buffer.from(rocaKeyBase64, "base64"));
      assert.throws(() => checkSubjectPublicKey(der, defaultSubjectKeyPolicy, FIELD), refusedWith(/ROCA/));
      assert.throws(() => checkSubjectPublicKey(rsaSpki(modulusOf(rocaKeyBase64)), defaultSubjectKeyPolicy, FIELD), refusedWith(/ROCA/));
    });

    it("refuses a modulus with a small prime factor, an even one included", () => {
      for (const p of [2n, 3n, 751n]) assert.throws(() => checkSubjectPublicKey(rsaSpki(smallFactorModulus(p)), defaultSubjectKeyPolicy, FIELD), refusedWith(/small prime factor/), String(p));
    });

    it("refuses a modulus whose prime factors are too close (Fermat)", () => {
      assert.throws(() => checkSubjectPublicKey(rsaSpki(closePrimeModulus()), defaultSubjectKeyPolicy, FIELD), refusedWith(/too close/));
    });

    it("accepts rocacheck's good key (an ordinary RSA-2048 key)", () => {
      assert.deepEqual(checkSubjectPublicKey(new Uint8Array(Buffer.from(goodKeyBase64, "base64")), defaultSubjectKeyPolicy, FIELD), { type: "rsa", bits: 2048, exponent: 65537 });
    });

    it("refuses an EC point off the curve (goodkey's on-curve check)", () => {
      const der = ec("prime256v1")();
      der[der.length - 1]! ^= 1;
      assert.throws(() => checkSubjectPublicKey(der, defaultSubjectKeyPolicy, FIELD), (e: unknown) => e instanceof CaError && e.field === FIELD);
    });
  });
});

/** rocacheck_test.go (github.com/titanous/rocacheck): bad[0] and good[0]. */
const rocaKeyBase64 =
  "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAlze9c7qGdjDLVR/ntk+4ZkfMcYsAnmfTFHfe3Xv7jRQqPCXCULtr0y0jG3aRJmEenoXO9uDveqr43gFB9yvAdLEhu0aJqpB7lNZ+yXsvfVp/96dkSN8oWYL/dd9Z7GQOvVniHUY3Xsd7zdw2eYOyHSXhhA2Ttwnj3c1jEYfC0y9q1cU99aL0ogGDqolcOvlkJu+mGb+6+WyboFa1gwRukYxBHZWKiHCt/eihvXsPTzTlXmTXWdGJtA1xZDnCBWuZ90b5R0agXVIESTl0cCyHaQM/tLZmktJIU+Eu7ALBXemPg9kh3SCnYd3/YvDGCtYSXOWthHwlP5CImRBcQaNncQIDAQAB";
const goodKeyBase64 =
  "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtA+5PaMwafUZVIU0kXo+u3EbF45Sw+11yOuYReWxp5dGLCmqk6Ukq+PvZ9Ygq7xrOQzuUx/dY1rFqB0tz3Z4KurqpK/aVwj+nEhRckEAtbls9qeGcMxdTgPvf8KJbjR6gw0jXdQKeLTIojXNtUSFPpOm0tsAT0SAqGHZF9jFzBOHlpyyhiWvtZpZaUQMXRQwoptaHug7tPBjZHm3n+baJH8TVua9Kx8zVsrGBzZnGh7Ybap9ZxvNg2m0BMi/jMhoNr7c3eQBrrkcxqrb0GIdHbg94w9W7Ds3v01FPb6qjKbW8Z2ZAm1lGM/3imodT8z3hLXYDUGWXUTGuaRWWKr8+QIDAQAB";
