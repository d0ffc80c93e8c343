import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { readCertificationRequest, type CertificationRequestParts } from "../../../../ca/x509/certification-request.js";
import { oidDer } from "../../../../ca/x509/general-names.js";
import { corruptions, truncations } from "../../../support/der-mutations.js";

/**
 * The DER walker that reads CSRs on the issuance hot path against pkijs's CertificationRequest schema
 * (what ca/issuance/csr.ts used before): over valid requests of several makers and shapes, and over every
 * truncation and thousands of random corruptions of them, the walker never accepts what pkijs refuses
 * and finds exactly the same parts when both accept (it may refuse more: it reads DER only, and only
 * the universal types a card's request uses, where pkijs reads BER and any type).
 */

const dir = join(process.cwd(), "var", "test", "certification-request");

function opensslCsr(name: string, key: KeyObject, args: string[], subj = "/C=JP/L=Tokyo/CN=test-card"): Uint8Array {
  const keyFile = join(dir, `${name}.key`);
  writeFileSync(keyFile, key.export({ type: "pkcs8", format: "pem" }) as string);
  const out = join(dir, `${name}.der`);
  execFileSync("openssl", ["req", "-new", "-key", keyFile, "-subj", subj, ...args, "-outform", "DER", "-out", out], { stdio: ["ignore", "ignore", "pipe"] });
  return new Uint8Array(readFileSync(out));
}

type Parts = Omit<CertificationRequestParts, "signatureAlgorithmParameters"> & { signatureAlgorithmParameters: string };

/** What pkijs finds, in the walker's terms; undefined when pkijs refuses the input. */
function pkijsParts(der: Uint8Array): { parts: Parts } | undefined {
  try {
    const asn1 = asn1js.fromBER(der);
    if (asn1.offset === -1 || asn1.offset !== der.byteLength) return undefined;
    const csr = new pkijs.CertificationRequest({ schema: asn1.result });
    const children = (asn1.result as asn1js.Sequence).valueBlock.value;
    const info = (children[0] as asn1js.Sequence).valueBlock.value;
    const params = csr.signatureAlgorithm.algorithmParams as asn1js.AsnType | undefined;
    const bits = csr.signatureValue.valueBlock;
    const version = csr.version;
    return {
      parts: {
        info: new Uint8Array(csr.tbsView),
        version: Number.isInteger(version) && version >= 0 && version < 0x80 ? version : -1,
        subject: new Uint8Array(info[1]!.valueBeforeDecodeView),
        spki: new Uint8Array(info[2]!.valueBeforeDecodeView),
        signatureAlgorithmOid: oidDer(csr.signatureAlgorithm.algorithmId),
        signatureAlgorithmParameters: params === undefined ? "absent" : params instanceof asn1js.Null ? "null" : "other",
        signatureUnusedBits: bits.unusedBits,
        signature: new Uint8Array(bits.valueHexView),
      },
    };
  } catch {
    return undefined;
  }
}

function walkerParts(der: Uint8Array): Parts | undefined {
  try {
    const p = readCertificationRequest(der);
    return { ...p, info: new Uint8Array(p.info), subject: new Uint8Array(p.subject), spki: new Uint8Array(p.spki), signatureAlgorithmOid: new Uint8Array(p.signatureAlgorithmOid), signature: new Uint8Array(p.signature) };
  } catch {
    return undefined;
  }
}

describe("certification request: the DER walker finds what pkijs finds", function () {
  this.timeout(120_000);
  const corpus: Record<string, Uint8Array> = {};

  before(() => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const p256 = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
    const p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" }).privateKey;
    corpus.rsa = opensslCsr("rsa", rsa, ["-sha256"]);
    corpus.p256 = opensslCsr("p256", p256, ["-sha256"]);
    corpus.p384 = opensslCsr("p384", p384, ["-sha384"]);
    corpus.emptySubject = opensslCsr("empty", p256, ["-sha256"], "/");
    corpus.withExtensions = opensslCsr("ext", rsa, ["-sha256", "-addext", "subjectAltName=DNS:card.example", "-addext", "keyUsage=critical,digitalSignature"]);
    corpus.rsaPss = opensslCsr("pss", rsa, ["-sha256", "-sigopt", "rsa_padding_mode:pss"]);
    corpus.multiValuedRdn = opensslCsr("multi", p256, ["-sha256", "-multivalue-rdn"], "/C=JP/O=Org+OU=Unit/CN=x");
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it("finds the same parts in valid requests (RSA, P-256, P-384, empty subject, extension request, RSA-PSS, multi-valued RDN)", () => {
    for (const [name, der] of Object.entries(corpus)) {
      const ours = walkerParts(der);
      const theirs = pkijsParts(der);
      assert.ok(ours && theirs, `${name}: both read it`);
      assert.deepEqual(ours, theirs.parts, name);
    }
    assert.equal(walkerParts(corpus.rsaPss!)!.signatureAlgorithmParameters, "other");
    assert.equal(walkerParts(corpus.rsa!)!.signatureAlgorithmParameters, "null");
    assert.equal(walkerParts(corpus.p256!)!.signatureAlgorithmParameters, "absent");
  });

  it("never accepts a truncated or corrupted request that pkijs refuses, and finds the same parts when both accept", () => {
    const inputs: Uint8Array[] = [];
    const samples = [corpus.rsa!, corpus.p256!, corpus.withExtensions!];
    inputs.push(...truncations(samples), ...samples.map((der) => new Uint8Array([...der, 0x00])));
    // Biased towards the structure: half the flips in the first 40 octets.
    inputs.push(...corruptions(Object.values(corpus), { count: 6000, maxFlips: 2, headBytes: 40, headOneIn: 2 }));
    let bothAccept = 0;
    let bothRefuse = 0;
    let stricter = 0;
    for (const der of inputs) {
      const ours = walkerParts(der);
      const theirs = pkijsParts(der);
      const hex = Buffer.from(der).toString("hex");
      if (ours) {
        assert.ok(theirs, `the walker accepted what pkijs refuses: ${hex}`);
        assert.deepEqual(ours, theirs.parts, hex);
        bothAccept++;
      } else if (theirs) {
        // pkijs reads BER and any universal type; the walker is stricter (DER only, the types a card uses).
        stricter++;
      } else {
        bothRefuse++;
      }
    }
    assert.equal(bothAccept + bothRefuse + stricter, inputs.length);
    assert.ok(bothAccept > 100 && bothRefuse > 1000, `a corpus that tests something: ${bothAccept} accepted by both, ${bothRefuse} refused by both, ${stricter} by pkijs only`);
  });
});
