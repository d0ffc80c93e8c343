import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, createPublicKey, randomBytes, verify } from "node:crypto";
import pkcs11js from "pkcs11js";
import { defaultAlgorithm } from "../../../ca/profiles/algorithms.js";
import { CaError } from "../../../ca/errors.js";
import type { KeySpec } from "../../../ca/types.js";
import { Pkcs11Hsm } from "../../../hsm/pkcs11-hsm.js";
import type { Pkcs11Signer } from "../../../hsm/pkcs11-signer.js";
import { signerContract } from "../../contract/signer.js";
import { systemBinary } from "../../support/system-binaries.js";
import { requireOpencryptoki, takeOpencryptokiToken, type OckToken } from "./opencryptoki-token.js";
import { CA_KEY_ATTRIBUTES } from "../../support/key-attributes.js";

/**
 * The HSM layer on a second PKCS#11 implementation: opencryptoki's software token (issue 14 item 5), so
 * that vendor differences show up here and not at a customer's HSM. docs/hsm-vendors.md lists what
 * differed from SoftHSM; each difference has a test below.
 */

/** A second handle on the library the Pkcs11Hsm already initialised (process-wide): never finalized here. */
function sameLibrary(token: OckToken): { lib: pkcs11js.PKCS11; slot: Buffer } {
  const lib = new pkcs11js.PKCS11();
  lib.load(token.modulePath);
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === token.tokenLabel);
  assert.ok(slot, "opencryptoki token slot");
  return { lib, slot };
}

const verifies = (signer: Pkcs11Signer, data: Uint8Array, signature: Uint8Array): boolean =>
  verify("sha256", data, { key: createPublicKey({ key: Buffer.from(signer.publicKey), format: "der", type: "spki" }), dsaEncoding: "der" }, signature);

const isCaError = (kind: string, pattern: RegExp) => (e: unknown) => e instanceof CaError && e.kind === kind && pattern.test(e.message);

describe("HSM layer on opencryptoki (software token)", function () {
  this.timeout(60_000);
  let token: OckToken;
  let hsm: Pkcs11Hsm;
  let keyCounter = 0;

  before(async function () {
    requireOpencryptoki(this);
    token = await takeOpencryptokiToken();
    // Before any login of this process: login state is per application (PKCS#11 v2.40 §5.5).
    await assert.rejects(
      Pkcs11Hsm.open({ modulePath: token.modulePath, tokenLabel: token.tokenLabel, pin: "bad00000" }),
      (e: unknown) => e instanceof Error && /refused the PIN/.test(e.message) && !e.message.includes("bad00000"),
    );
    hsm = await Pkcs11Hsm.open({ modulePath: token.modulePath, tokenLabel: token.tokenLabel, pin: token.pin, poolSize: 4 });
  });

  after(async function () {
    await hsm?.close();
    token?.release();
  });

  const makeSigner = async (spec: KeySpec): Promise<Pkcs11Signer> => {
    const { uri } = await hsm.generateKey(`contract-${++keyCounter}`, spec);
    return hsm.signer(uri, defaultAlgorithm(spec));
  };

  signerContract("Pkcs11Signer (opencryptoki)", makeSigner, [
    { name: "RSA-2048", spec: { type: "rsa", bits: 2048 } },
    { name: "RSA-3072", spec: { type: "rsa", bits: 3072 } },
  ]);

  describe("vendor differences (docs/hsm-vendors.md)", function () {
    let rsa: Pkcs11Signer;

    before(async function () {
      rsa = await makeSigner({ type: "rsa", bits: 2048 });
    });

    it("has no CKM_SHA256_RSA_PKCS: sign() hashes here and signs the DigestInfo, the same bytes as signDigest()", async function () {
      const { lib, slot } = sameLibrary(token);
      const offered = lib.C_GetMechanismList(slot);
      assert.ok(!offered.includes(pkcs11js.CKM_SHA256_RSA_PKCS), "this token version lists CKM_SHA256_RSA_PKCS: update docs/hsm-vendors.md");
      assert.ok(offered.includes(pkcs11js.CKM_RSA_PKCS));
      for (const data of [randomBytes(1000), new Uint8Array(0)]) {
        const signature = await rsa.sign(data);
        assert.ok(verifies(rsa, data, signature), "verifies with node:crypto");
        // PKCS#1 v1.5 is deterministic: one signature per key and message, whichever mechanism made it.
        assert.deepEqual(signature, await rsa.signDigest(createHash("sha256").update(data).digest()));
      }
    });

    it("EC keys: made and used when the token offers the mechanisms, else refused before anything is created", async function () {
      const { lib, slot } = sameLibrary(token);
      const offered = lib.C_GetMechanismList(slot);
      const ec = offered.includes(pkcs11js.CKM_EC_KEY_PAIR_GEN) && offered.includes(pkcs11js.CKM_ECDSA);
      if (ec) {
        const signer = await makeSigner({ type: "ec", curve: "P-256" });
        const data = randomBytes(64);
        assert.ok(verifies(signer, data, await signer.sign(data)));
        return;
      }
      // opencryptoki 3.8.1 (Debian 12): no EC mechanism at all in the software token.
      await assert.rejects(hsm.generateKey("ec-refused", { type: "ec", curve: "P-256" }), isCaError("unprocessable", /does not offer CKM_EC_KEY_PAIR_GEN.*P-256/));
      await assert.rejects(hsm.generateKey("ec-refused", { type: "ec", curve: "P-384" }), isCaError("unprocessable", /P-384/));
      assert.equal(await hsm.hasKey("ec-refused"), false);
    });

    it("generated keys read back sensitive, never extractable, sign only; modifiable false, copy/destroy protection unknown to the token", async function () {
      const { uri } = await hsm.generateKey("ca-rsa4096", { type: "rsa", bits: 4096 });
      assert.deepEqual(await hsm.keyAttributes(uri), { ...CA_KEY_ATTRIBUTES });
      const protection = await hsm.keyProtection("ca-rsa4096");
      assert.equal(protection.privateKey.modifiable, false);
      assert.equal(protection.publicKey.modifiable, false);
      // CKA_COPYABLE / CKA_DESTROYABLE are PKCS#11 v2.40 attributes opencryptoki 3.8.1 does not know:
      // generation drops them (key-generator.ts) and they read back as unsupported (null).
      for (const p of [protection.privateKey, protection.publicKey]) assert.ok(p.copyable !== true && p.destroyable !== true, JSON.stringify(p));
      await assert.rejects(hsm.generateKey("ca-rsa4096", { type: "rsa", bits: 2048 }), isCaError("conflict", /already holds/));
    });

    it("pkcs11-tool, another process through the slot daemon, sees the key as the service does", async function () {
      const out = execFileSync(
        systemBinary("pkcs11-tool"),
        ["--module", token.modulePath, "--token-label", token.tokenLabel, "--login", "--pin", token.pin, "--list-objects", "--type", "privkey"],
        { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
      );
      const block = out.split(/\n(?=\S)/).find((b) => b.startsWith("Private Key Object") && /label:\s+ca-rsa4096\s*$/m.test(b));
      assert.ok(block, out);
      assert.match(block, /^\s*Usage:\s+sign\s*$/m);
      assert.match(block, /^\s*Access:\s+sensitive, always sensitive, never extractable, local\s*$/m);
      // CKA_ID: both halves share the random 16-byte id (hsm/key-generator.ts), found by `id=` in a URI.
      const id = /^\s*ID:\s+([0-9a-f]{32})\s*$/m.exec(block)?.[1];
      assert.ok(id, block);
      const byId = await hsm.publicKey(`pkcs11:id=${id.replace(/../g, "%$&")};type=public`);
      assert.deepEqual(byId, (await hsm.findKey("ca-rsa4096"))?.publicKey);
    });

    it("recovers when every session is closed under it (C_CloseAllSessions) and after a C_Logout elsewhere", async function () {
      const data = randomBytes(32);
      assert.ok(verifies(rsa, data, await rsa.sign(data)));
      const { lib, slot } = sameLibrary(token);
      lib.C_CloseAllSessions(slot);
      assert.ok(verifies(rsa, data, await rsa.sign(data)), "after C_CloseAllSessions");
      const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      lib.C_Logout(session);
      lib.C_CloseSession(session);
      const signatures = await Promise.all(Array.from({ length: 8 }, () => rsa.sign(data)));
      for (const s of signatures) assert.ok(verifies(rsa, data, s), "after C_Logout");
      const h = await hsm.health();
      assert.equal(h.ok, true, h.detail);
      assert.match(h.detail, /IBM SoftTok/);
    });
  });
});
