import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPublicKey } from "node:crypto";
import { CaError } from "../../../ca/errors.js";
import { Pkcs11Hsm } from "../../../hsm/pkcs11-hsm.js";
import { createTestToken, type TestToken } from "../../support/softhsm.js";
import { CA_KEY_ATTRIBUTES } from "../../support/key-attributes.js";

const isCaError = (kind: string, pattern?: RegExp) => (e: unknown) =>
  e instanceof CaError && e.kind === kind && (!pattern || pattern.test(e.message));

/** The block `pkcs11-tool --list-objects` prints for the private key labelled `label`. */
function pkcs11ToolPrivateKey(token: TestToken, label: string): string {
  const out = execFileSync(
    "pkcs11-tool",
    ["--module", token.modulePath, "--token-label", token.tokenLabel, "--login", "--pin", token.pin, "--list-objects", "--type", "privkey"],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  const block = out.split(/\n(?=\S)/).find((b) => b.startsWith("Private Key Object") && new RegExp(`label:\\s+${label}\\s*$`, "m").test(b));
  assert.ok(block, `pkcs11-tool lists private key ${label}`);
  return block;
}

describe("Pkcs11Hsm on SoftHSM", function () {
  this.timeout(60_000);
  let token: TestToken;
  let hsm: Pkcs11Hsm;

  before(function () {
    token = createTestToken("hsm");
  });

  describe("open()", function () {
    // Before any other instance logs in: PKCS#11 login is per application, so while another
    // instance of this process is logged in, C_Login answers CKR_USER_ALREADY_LOGGED_IN whatever the PIN.
    it("fails on a wrong PIN, without putting the PIN in the message", async function () {
      await assert.rejects(
        Pkcs11Hsm.open({ modulePath: token.modulePath, tokenLabel: token.tokenLabel, pin: "wrong-pin-1234" }),
        (e: unknown) => isCaError("unavailable", /refused the PIN/)(e) && !(e as Error).message.includes("wrong-pin-1234"),
      );
    });

    it("fails on a module that does not load", async function () {
      await assert.rejects(
        Pkcs11Hsm.open({ modulePath: "/nonexistent/libpkcs11.so", tokenLabel: token.tokenLabel, pin: token.pin }),
        isCaError("unavailable", /cannot load PKCS#11 module/),
      );
    });
  });

  describe("with a key ceremony done", function () {
    before(async function () {
      hsm = await Pkcs11Hsm.open({ modulePath: token.modulePath, tokenLabel: token.tokenLabel, pin: token.pin });
    });

    after(async function () {
      await hsm?.close();
    });

    for (const [label, spec, detail] of [
      ["ca-rsa", { type: "rsa", bits: 2048 }, { asymmetricKeyType: "rsa", modulusLength: 2048 }],
      ["ca-rsa3072", { type: "rsa", bits: 3072 }, { asymmetricKeyType: "rsa", modulusLength: 3072 }],
      ["ca-p384", { type: "ec", curve: "P-384" }, { asymmetricKeyType: "ec", namedCurve: "secp384r1" }],
    ] as const) {
      describe(`a generated ${label} key`, function () {
        let uri: string;
        let publicKey: Uint8Array;

        before(async function () {
          ({ uri, publicKey } = await hsm.generateKey(label, spec));
        });

        it("is named by an RFC 7512 URI and published as SPKI", function () {
          assert.equal(uri, `pkcs11:token=${token.tokenLabel};object=${label};type=private`);
          const key = createPublicKey({ key: Buffer.from(publicKey), format: "der", type: "spki" });
          assert.equal(key.asymmetricKeyType, detail.asymmetricKeyType);
          if ("modulusLength" in detail) {
            assert.equal(key.asymmetricKeyDetails?.modulusLength, detail.modulusLength);
            assert.equal(key.asymmetricKeyDetails?.publicExponent, 65537n);
          } else assert.equal(key.asymmetricKeyDetails?.namedCurve, detail.namedCurve);
        });

        it("reads back: sensitive, never extractable, sign only (no decrypt/unwrap/derive)", async function () {
          assert.deepEqual(await hsm.keyAttributes(uri), { ...CA_KEY_ATTRIBUTES });
        });

        it("looks the same to pkcs11-tool", function () {
          const block = pkcs11ToolPrivateKey(token, label);
          assert.match(block, /^\s*Usage:\s+sign\s*$/m);
          assert.match(block, /^\s*Access:\s+sensitive, always sensitive, never extractable, local\s*$/m);
        });

        it("is found by label and URI", async function () {
          assert.equal(await hsm.hasKey(label), true);
          assert.deepEqual(await hsm.publicKey(uri), publicKey);
          assert.deepEqual((await hsm.findKey(label))?.publicKey, publicKey);
          assert.deepEqual(await hsm.publicKey(`pkcs11:object=${label};type=public`), publicKey);
        });

        it("is never generated twice under the same label", async function () {
          await assert.rejects(hsm.generateKey(label, spec), isCaError("conflict", /already holds/));
        });
      });
    }

    describe("lookups, errors and health", function () {
      it("hasKey/findKey answer false/undefined for an absent label", async function () {
        assert.equal(await hsm.hasKey("absent"), false);
        assert.equal(await hsm.findKey("absent"), undefined);
      });

      it("signer() refuses an absent key with not-found, and a mismatched algorithm with invalid-input", async function () {
        await assert.rejects(hsm.signer(`pkcs11:token=${token.tokenLabel};object=absent;type=private`, "ecdsa-with-SHA256"), isCaError("not-found"));
        await assert.rejects(hsm.publicKey(`pkcs11:object=absent`), isCaError("not-found"));
        await assert.rejects(hsm.keyAttributes(`pkcs11:object=absent`), isCaError("not-found"));
        await assert.rejects(hsm.signer(`pkcs11:token=other;object=ca-rsa`, "sha256WithRSAEncryption"), isCaError("not-found", /token "other"/));
        await assert.rejects(hsm.signer(`pkcs11:object=ca-p384`, "ecdsa-with-SHA256"), isCaError("invalid-input", /P-384/));
        await assert.rejects(hsm.signer(`pkcs11:object=ca-rsa`, "ecdsa-with-SHA384"), isCaError("invalid-input"));
        await assert.rejects(hsm.signer(`not-a-uri`, "ecdsa-with-SHA384"), isCaError("invalid-input"));
      });

      it("refuses bad labels and key specs", async function () {
        await assert.rejects(hsm.generateKey("bad label", { type: "ec", curve: "P-256" }), isCaError("invalid-input"));
        await assert.rejects(hsm.generateKey("k", { type: "rsa", bits: 1024 } as never), isCaError("invalid-input"));
      });

      it("health() reports a working token, with session counts", async function () {
        const h = await hsm.health();
        assert.equal(h.ok, true, h.detail);
        assert.match(h.detail, new RegExp(token.tokenLabel));
        assert.equal(h.sessionsInUse, 0);
        assert.ok(h.sessionsOpen >= 1 && h.sessionsOpen <= 4);
      });

      it("health() reports failure when the token label is wrong; operations fail with unavailable", async function () {
        const wrong = await Pkcs11Hsm.open({ modulePath: token.modulePath, tokenLabel: "no-such-token", pin: token.pin });
        try {
          const h = await wrong.health();
          assert.equal(h.ok, false);
          assert.match(h.detail, /"no-such-token" not found/);
          assert.ok(!h.detail.includes(token.pin));
          assert.equal(h.sessionsOpen, 0);
          await assert.rejects(wrong.hasKey("ca-rsa"), isCaError("unavailable"));
        } finally {
          await wrong.close();
        }
        assert.equal((await hsm.health()).ok, true, "the other instance is unaffected");
      });

      it("rejects operations after close()", async function () {
        const other = await Pkcs11Hsm.open({ modulePath: token.modulePath, tokenLabel: token.tokenLabel, pin: token.pin });
        const signer = await other.signer(`pkcs11:object=ca-p384`, "ecdsa-with-SHA384");
        await other.close();
        await assert.rejects(signer.sign(Buffer.from("x")), isCaError("unavailable"));
        assert.equal((await other.health()).ok, false);
        assert.equal((await hsm.health()).ok, true, "closing a second instance leaves the first working");
      });
    });
  });
});
