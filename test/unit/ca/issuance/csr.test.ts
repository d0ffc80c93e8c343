import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import forge from "node-forge";
import * as pkijs from "pkijs";
import { type ParsedCsr, parseCsr } from "../../../../ca/issuance/csr.js";
import { CaError } from "../../../../ca/errors.js";

const FIELD = "requests[0].csr";
const dir = join(process.cwd(), "var", "test", "csr");

function pemKey(key: KeyObject): string {
  return key.export({ type: "pkcs8", format: "pem" }) as string;
}

/** `openssl req` with a key file; extra args go before -out. */
function opensslCsr(name: string, privateKey: KeyObject | string, args: string[] = ["-sha256"], subj = "/C=JP/CN=test-card"): string {
  const keyFile = join(dir, `${name}.key`);
  writeFileSync(keyFile, typeof privateKey === "string" ? privateKey : pemKey(privateKey));
  const out = join(dir, `${name}.csr`);
  execFileSync("openssl", ["req", "-new", "-key", keyFile, "-subj", subj, ...args, "-out", out], { stdio: ["ignore", "ignore", "pipe"] });
  return readFileSync(out, "utf8");
}

/** node-forge CSR: `publicKeyOf` lets a test put one key in and sign with another. */
function forgeCsr(signer: KeyObject, publicKeyOf: KeyObject = signer, cn = "forge-card"): string {
  const priv = forge.pki.privateKeyFromPem(pemKey(signer));
  const pubPem = createPublicKey(publicKeyOf).export({ type: "spki", format: "pem" }) as string;
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(pubPem);
  csr.setSubject([{ name: "commonName", value: cn }, { name: "countryName", value: "JP" }]);
  csr.sign(priv, forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

const pemToDer = (pem: string): Buffer => Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
const derToPem = (der: Uint8Array): string =>
  `-----BEGIN CERTIFICATE REQUEST-----\n${Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n")}\n-----END CERTIFICATE REQUEST-----\n`;
const spkiOf = (key: KeyObject): Buffer => createPublicKey(key).export({ type: "spki", format: "der" });

function expectCaError(fn: () => unknown, kind: CaError["kind"], message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CaError, `expected CaError, got ${String(e)}`);
    assert.equal(e.kind, kind, e.message);
    assert.equal(e.field, FIELD);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe("csr: parse PKCS#10 and verify proof of possession", function () {
  this.timeout(60_000);
  const keys: Record<string, KeyObject> = {};
  const csrs: Record<string, string> = {};

  before(() => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    keys.rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    keys.rsa2 = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    keys.p256 = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
    keys.p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" }).privateKey;
    keys.rsa1024 = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey;
    keys.ed25519 = generateKeyPairSync("ed25519").privateKey;
    keys.p521 = generateKeyPairSync("ec", { namedCurve: "secp521r1" }).privateKey;

    csrs.forgeRsa = forgeCsr(keys.rsa);
    csrs.opensslRsa = opensslCsr("rsa", keys.rsa);
    csrs.opensslP256 = opensslCsr("p256", keys.p256);
    csrs.opensslP384 = opensslCsr("p384", keys.p384, ["-sha384"]);
    csrs.opensslP384sha256 = opensslCsr("p384-sha256", keys.p384, ["-sha256"]);
    csrs.rsaPss = opensslCsr("pss", keys.rsa, ["-sha256", "-sigopt", "rsa_padding_mode:pss"]);
    csrs.rsaSha1 = opensslCsr("sha1", keys.rsa, ["-sha1"]);
    csrs.rsaSha512 = opensslCsr("sha512", keys.rsa, ["-sha512"]);
    csrs.p256sha512 = opensslCsr("p256-sha512", keys.p256, ["-sha512"]);
    csrs.rsa1024 = opensslCsr("rsa1024", keys.rsa1024);
    csrs.ed25519 = opensslCsr("ed25519", keys.ed25519, []);
    csrs.p521 = opensslCsr("p521", keys.p521);
    csrs.wrongKey = forgeCsr(keys.rsa2, keys.rsa);
    // P-256 key written with a compressed point: the CSR's SPKI carries the compressed form.
    const compressed = execFileSync("openssl", ["ec", "-conv_form", "compressed"], { input: pemKey(keys.p256), stdio: ["pipe", "pipe", "ignore"] }).toString();
    csrs.p256compressed = opensslCsr("p256c", compressed);
    csrs.emptySubject = opensslCsr("empty-subject", keys.p256, ["-sha256"], "/");
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  const accepted: [string, string, string, ParsedCsr["signatureAlgorithm"], ParsedCsr["key"]][] = [
    ["node-forge RSA-2048", "forgeRsa", "rsa", "sha256WithRSAEncryption", { type: "rsa", bits: 2048, exponent: 65537 }],
    ["openssl RSA-2048", "opensslRsa", "rsa", "sha256WithRSAEncryption", { type: "rsa", bits: 2048, exponent: 65537 }],
    ["openssl P-256 / SHA-256", "opensslP256", "p256", "ecdsa-with-SHA256", { type: "ec", curve: "P-256" }],
    ["openssl P-384 / SHA-384", "opensslP384", "p384", "ecdsa-with-SHA384", { type: "ec", curve: "P-384" }],
    ["openssl P-384 / SHA-256", "opensslP384sha256", "p384", "ecdsa-with-SHA256", { type: "ec", curve: "P-384" }],
  ];
  for (const [what, csrName, keyName, alg, key] of accepted) {
    it(`accepts ${what} (PEM and DER)`, () => {
      const pem = csrs[csrName]!;
      const parsed = parseCsr(pem, FIELD);
      assert.deepEqual(Buffer.from(parsed.publicKey), spkiOf(keys[keyName]!));
      assert.equal(parsed.publicKeySha256, createHash("sha256").update(parsed.publicKey).digest("hex"));
      assert.equal(parsed.signatureAlgorithm, alg);
      assert.deepEqual(parsed.key, key);
      assert.ok(parsed.subject && parsed.subject.length > 2);
      const fromDer = parseCsr(new Uint8Array(pemToDer(pem)), FIELD);
      assert.equal(fromDer.publicKeySha256, parsed.publicKeySha256);
      const fromBase64 = parseCsr(Buffer.from(pemToDer(pem)).toString("base64"), FIELD);
      assert.equal(fromBase64.publicKeySha256, parsed.publicKeySha256);
    });
  }

  it("returns the subject Name DER, or undefined for an empty one", () => {
    const parsed = parseCsr(csrs.forgeRsa!, FIELD);
    assert.ok(Buffer.from(parsed.subject!).includes(Buffer.from("forge-card")));
    assert.equal(parseCsr(csrs.emptySubject!, FIELD).subject, undefined);
  });

  it("canonicalises a compressed EC point: same key, same hash", () => {
    const der = pemToDer(csrs.p256compressed!);
    const plain = parseCsr(csrs.opensslP256!, FIELD);
    const compressed = parseCsr(csrs.p256compressed!, FIELD);
    assert.ok(der.length < pemToDer(csrs.opensslP256!).length, "the CSR really carries a compressed point");
    assert.equal(compressed.publicKeySha256, plain.publicKeySha256);
  });

  it("accepts the legacy NEW CERTIFICATE REQUEST label and text around the block", () => {
    const pem = csrs.opensslP256!.replaceAll("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST");
    assert.doesNotThrow(() => parseCsr(`Subject: test\n${pem}\n`, FIELD));
  });

  it("does not use pkijs's global crypto engine", () => {
    const saved = pkijs.getEngine();
    pkijs.setEngine("none", null as unknown as pkijs.ICryptoEngine);
    try {
      assert.throws(() => pkijs.getCrypto(true));
      assert.doesNotThrow(() => parseCsr(csrs.opensslRsa!, FIELD));
      assert.doesNotThrow(() => parseCsr(csrs.opensslP384!, FIELD));
    } finally {
      pkijs.setEngine(saved.name, saved.crypto!);
    }
  });

  // Refusals: [what, make input, kind, message]
  const refused: [string, () => string | Uint8Array, CaError["kind"], RegExp?][] = [
    ["a tampered subject (signature no longer verifies)", () => {
      const der = pemToDer(csrs.opensslRsa!);
      const at = der.indexOf(Buffer.from("test-card"));
      der[at] = "b".charCodeAt(0);
      return derToPem(der);
    }, "unprocessable", /CSR signature does not verify/],
    ["a tampered signature", () => {
      const der = pemToDer(csrs.opensslP256!);
      der[der.length - 5] = der[der.length - 5]! ^ 0x01;
      return new Uint8Array(der);
    }, "unprocessable", /CSR signature does not verify/],
    ["a CSR signed by another key (node-forge)", () => csrs.wrongKey!, "unprocessable", /CSR signature does not verify/],
    ["a truncated DER", () => new Uint8Array(pemToDer(csrs.opensslRsa!).subarray(0, 300)), "invalid-input"],
    ["a truncated PEM (last base64 lines cut)", () => {
      const lines = csrs.opensslRsa!.trim().split("\n");
      return [...lines.slice(0, -4), lines[lines.length - 1]].join("\n");
    }, "invalid-input"],
    ["garbage base64", () => "-----BEGIN CERTIFICATE REQUEST-----\nnot*base64!\n-----END CERTIFICATE REQUEST-----", "invalid-input"],
    ["valid base64 that is not DER", () => derToPem(Buffer.from("hello, this is not a certification request")), "invalid-input"],
    ["a certificate-shaped SEQUENCE", () => new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), "invalid-input"],
    ["trailing bytes after the DER", () => new Uint8Array([...pemToDer(csrs.opensslP256!), 0x00]), "invalid-input"],
    ["two PEM blocks", () => csrs.opensslP256! + csrs.opensslRsa!, "invalid-input"],
    ["no PEM block", () => "hello", "invalid-input"],
    ["base64 that is not a CSR", () => Buffer.from("hello world!").toString("base64"), "invalid-input"],
    ["empty DER", () => new Uint8Array(0), "invalid-input"],
    ["an oversized input", () => "A".repeat(70_000), "invalid-input"],
    ["an RSA-PSS signature", () => csrs.rsaPss!, "unprocessable", /RSA-PSS/],
    ["a SHA-1 signature", () => csrs.rsaSha1!, "unprocessable", /not accepted/],
    ["sha512WithRSAEncryption", () => csrs.rsaSha512!, "unprocessable", /not accepted/],
    ["ecdsa-with-SHA512", () => csrs.p256sha512!, "unprocessable", /not accepted/],
    ["an RSA-1024 key", () => csrs.rsa1024!, "unprocessable", /shorter than 2048/],
    ["an Ed25519 key", () => csrs.ed25519!, "unprocessable", /not accepted/],
    ["a P-521 key", () => csrs.p521!, "unprocessable", /P-256 or P-384/],
  ];
  for (const [what, make, kind, message] of refused) {
    it(`refuses ${what} (${kind})`, () => expectCaError(() => parseCsr(make(), FIELD), kind, message));
  }
});
