/**
 * Issue 12: CA and responder keys are created with CKA_MODIFIABLE, CKA_COPYABLE and CKA_DESTROYABLE
 * false where the token supports them, read back from the token (SoftHSM 2.6 supports all three).
 */
import assert from "node:assert/strict";
import * as graphene from "graphene-pk11";
import { Pkcs11Hsm } from "../../../hsm/pkcs11-hsm.js";
import { createTestToken, type TestToken } from "../../support/softhsm.js";

describe("CA key storage protection on SoftHSM (issue 12)", function () {
  this.timeout(60_000);
  let token: TestToken;
  let hsm: Pkcs11Hsm;

  before(async function () {
    token = createTestToken("keyprot");
    hsm = await Pkcs11Hsm.open({ modulePath: token.modulePath, tokenLabel: token.tokenLabel, pin: token.pin });
    await hsm.generateKey("prot-rsa", { type: "rsa", bits: 2048 });
    await hsm.generateKey("prot-ec", { type: "ec", curve: "P-384" });
  });

  after(async function () {
    await hsm?.close();
  });

  for (const label of ["prot-rsa", "prot-ec"]) {
    it(`${label}: both halves are not modifiable, not copyable, not destroyable (read back)`, async () => {
      const p = await hsm.keyProtection(label);
      assert.deepEqual(p.privateKey, { modifiable: false, copyable: false, destroyable: false });
      assert.deepEqual(p.publicKey, { modifiable: false, copyable: false, destroyable: false });
    });
  }

  it("the token refuses to change, copy or destroy the CA private key", () => {
    // A second, raw graphene session: what an attacker with the PIN and a PKCS#11 client could try.
    const mod = graphene.Module.load(token.modulePath, "SoftHSM");
    // The library is initialised already by the Pkcs11Hsm of this process: CKR_CRYPTOKI_ALREADY_INITIALIZED is fine.
    try {
      mod.initialize();
    } catch {
      /* already initialised */
    }
    const slot = Array.from({ length: mod.getSlots(true).length }, (_, i) => mod.getSlots(true).items(i)).find((s) => s.getToken().label.trim() === token.tokenLabel);
    assert.ok(slot, "test token slot");
    const session = slot.open(graphene.SessionFlag.SERIAL_SESSION | graphene.SessionFlag.RW_SESSION);
    try {
      // CKR_ACTION_PROHIBITED is 0x1B (PKCS#11 v2.40); graphene names it CKR_VENDOR_DEFINED:27.
      const prohibited = (e: unknown): boolean => {
        const code = (e as { code?: unknown }).code;
        return code === 0x1b || code === 0x10 || /CKR_ACTION_PROHIBITED|CKR_ATTRIBUTE_READ_ONLY|CKR_VENDOR_DEFINED:27$/.test(String((e as Error).message));
      };
      const key = session.find({ class: graphene.ObjectClass.PRIVATE_KEY, label: "prot-rsa" }).items(0);
      assert.throws(() => key.setAttribute({ label: "renamed" }), prohibited);
      assert.throws(() => key.setAttribute({ decrypt: true }), prohibited);
      assert.throws(() => key.copy({ label: "copy" }), prohibited);
      assert.throws(() => key.destroy(), prohibited);
      assert.equal(session.find({ class: graphene.ObjectClass.PRIVATE_KEY, label: "prot-rsa" }).length, 1);
      assert.equal(session.find({ label: "copy" }).length, 0);
      assert.equal(key.getAttribute({ decrypt: null }).decrypt, false);
    } finally {
      session.close();
    }
  });
});
