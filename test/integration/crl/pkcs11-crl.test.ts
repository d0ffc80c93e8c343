import assert from "node:assert/strict";
import { createHash, createPublicKey, verify } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildCaCertificate } from "../../../ca/profiles/ca-certificate.js";
import { defaultCaProfiles } from "../../../ca/profiles/ca-profile.js";
import { defaultAlgorithm } from "../../../ca/profiles/algorithms.js";
import type { KeySpec } from "../../../ca/types.js";
import { parseIssuerCertificate } from "../../../ca/x509/issuer-certificate.js";
import { pem } from "../../../ca/x509/pem.js";
import { buildCrl } from "../../../crl/crl-builder.js";
import { canSignDigest } from "../../../crl/prehash-signer.js";
import { Pkcs11Hsm } from "../../../hsm/pkcs11-hsm.js";
import type { Pkcs11Signer } from "../../../hsm/pkcs11-signer.js";
import { randomEntries } from "../../support/crl-fixtures.js";
import { SeededRandom } from "../../support/end-entity-fixtures.js";
import { createTestToken } from "../../support/softhsm.js";
import { openssl, scratchDir } from "../x509/openssl.js";

/**
 * CRLs signed in SoftHSM through the digest path (Pkcs11Signer.signDigest: CKM_RSA_PKCS over a
 * DigestInfo, CKM_ECDSA over the hash): the token receives 32–48 bytes instead of the whole TBS, and
 * openssl verifies the result with the CA certificate.
 */
describe("CRLs signed by a SoftHSM key through the digest path", function () {
  this.timeout(60_000);
  let hsm: Pkcs11Hsm;
  let dir: ReturnType<typeof scratchDir>;
  let n = 0;

  before(async () => {
    const token = createTestToken("crl-digest");
    hsm = await Pkcs11Hsm.open({ modulePath: token.modulePath, tokenLabel: token.tokenLabel, pin: token.pin, poolSize: 2 });
    dir = scratchDir();
  });
  after(async () => {
    await hsm?.close();
    dir?.remove();
  });

  const signer = async (spec: KeySpec): Promise<Pkcs11Signer> => {
    const { uri } = await hsm.generateKey(`crl-${++n}`, spec);
    return hsm.signer(uri, defaultAlgorithm(spec));
  };

  it("RSA: signDigest gives exactly the signature sign() gives over the message", async () => {
    const s = await signer({ type: "rsa", bits: 2048 });
    assert.ok(canSignDigest(s));
    const message = new TextEncoder().encode("a TBSCertList would be here");
    const digest = new Uint8Array(createHash("sha256").update(message).digest());
    assert.deepEqual(await s.signDigest(digest), await s.sign(message));
    await assert.rejects(s.signDigest(digest.subarray(0, 20)));
  });

  it("ECDSA P-384: signDigest output verifies over the message", async () => {
    const s = await signer({ type: "ec", curve: "P-384" });
    const message = new TextEncoder().encode("delta CRL");
    const sig = await s.signDigest(new Uint8Array(createHash("sha384").update(message).digest()));
    assert.ok(verify("sha384", message, createPublicKey({ key: Buffer.from(s.publicKey), format: "der", type: "spki" }), sig));
  });

  for (const spec of [{ type: "rsa", bits: 2048 }, { type: "ec", curve: "P-256" }] as const) {
    it(`a 20,000-entry CRL signed with ${spec.type === "rsa" ? "RSA-2048" : spec.curve} in the token passes openssl crl -verify`, async () => {
      const s = await signer(spec);
      const profile = { ...defaultCaProfiles.sign, keySpec: spec, signatureAlgorithm: s.algorithm };
      const caDer = await buildCaCertificate({ kind: "sign", generation: 1, profile, signer: s, serial: "1101", notBefore: new Date("2026-01-05T00:00:00Z") });
      const issuer = parseIssuerCertificate(caDer);
      const built = await buildCrl(
        {
          issuer: issuer.subject,
          authorityKeyId: issuer.keyIdentifier,
          thisUpdate: new Date(),
          nextUpdate: new Date(Date.now() + 86_400_000),
          crlNumber: 1,
          distributionPoint: "http://127.0.0.1:8080/crl/sign-g1/0.crl",
          freshestCrl: "http://127.0.0.1:8080/crl/sign-g1/0-delta.crl",
        },
        s,
        [randomEntries(new SeededRandom(n), 20_000)],
        { issuerPublicKey: issuer.subjectPublicKey },
      );
      const ca = join(dir.dir, `ca-${n}.pem`);
      const crl = join(dir.dir, `crl-${n}.pem`);
      writeFileSync(ca, pem(caDer, "CERTIFICATE"));
      writeFileSync(crl, pem(built.der, "X509 CRL"));
      const r = openssl(["crl", "-in", crl, "-CAfile", ca, "-noout", "-verify"]);
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, /verify OK/);
    });
  }
});
