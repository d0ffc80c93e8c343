import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPublicKey, randomBytes, verify } from "node:crypto";
import pkcs11js from "pkcs11js";
import { defaultAlgorithm, signatureHash } from "../../../ca/profiles/algorithms.js";
import { CaError } from "../../../ca/errors.js";
import type { Signer } from "../../../ca/ports.js";
import type { KeySpec } from "../../../ca/types.js";
import { Pkcs11Hsm, type HsmMetrics } from "../../../hsm/pkcs11-hsm.js";
import type { Pkcs11Signer } from "../../../hsm/pkcs11-signer.js";
import { signerContract } from "../../contract/signer.js";
import { createTestToken, type TestToken } from "../../support/softhsm.js";

/** Records what the HSM layer reports. */
class RecordingMetrics implements HsmMetrics {
  signs: Array<{ algorithm: string; ok: boolean }> = [];
  errors: string[] = [];
  maxInUse = 0;
  observeSign(algorithm: string, _seconds: number, ok: boolean): void {
    this.signs.push({ algorithm, ok });
  }
  setSessionsInUse(n: number): void {
    this.maxInUse = Math.max(this.maxInUse, n);
  }
  incError(kind: string): void {
    this.errors.push(kind);
  }
}

/**
 * A second handle on the same library, as another part of the process (or a misbehaving
 * library) would have: C_Initialize/C_Finalize, logins and C_CloseAllSessions are process-wide.
 */
function rawLibrary(token: TestToken): { lib: pkcs11js.PKCS11; slot: Buffer } {
  const lib = new pkcs11js.PKCS11();
  lib.load(token.modulePath);
  // Slots of tokens other tests deleted (their directories gone) answer CKR_GENERAL_ERROR: not ours.
  const labelOf = (s: Buffer): string | undefined => {
    try {
      return lib.C_GetTokenInfo(s).label.trim();
    } catch {
      return undefined;
    }
  };
  const slot = lib.C_GetSlotList(true).find((s) => labelOf(s) === token.tokenLabel);
  assert.ok(slot, "test token slot");
  return { lib, slot };
}

const verifies = (signer: Signer, data: Uint8Array, signature: Uint8Array): boolean =>
  verify(
    signatureHash[signer.algorithm],
    data,
    { key: createPublicKey({ key: Buffer.from(signer.publicKey), format: "der", type: "spki" }), dsaEncoding: "der" },
    signature,
  );

async function signAndVerify(signer: Signer, count: number): Promise<void> {
  const messages = Array.from({ length: count }, () => randomBytes(100));
  const signatures = await Promise.all(messages.map((m) => signer.sign(m)));
  messages.forEach((m, i) => assert.ok(verifies(signer, m, signatures[i] as Uint8Array), `signature ${i}`));
}

describe("Pkcs11Signer on SoftHSM", function () {
  this.timeout(60_000);
  let token: TestToken;
  let doomed: TestToken;
  let hsm: Pkcs11Hsm;
  const metrics = new RecordingMetrics();
  let keyCounter = 0;

  before(async function () {
    // Every token first: SoftHSM only sees tokens that exist at C_Initialize (test/support/softhsm.ts).
    token = createTestToken("signer");
    doomed = createTestToken("signer-doomed");
    hsm = await Pkcs11Hsm.open({ modulePath: token.modulePath, tokenLabel: token.tokenLabel, pin: token.pin, poolSize: 4, metrics });
  });

  after(async function () {
    await hsm?.close();
  });

  const makeSigner = async (spec: KeySpec): Promise<Pkcs11Signer> => {
    const { uri } = await hsm.generateKey(`contract-${++keyCounter}`, spec);
    return hsm.signer(uri, defaultAlgorithm(spec));
  };

  signerContract("Pkcs11Signer (SoftHSM)", makeSigner);

  describe("operation", function () {
    let rsa: Pkcs11Signer;
    let p256: Pkcs11Signer;

    before(async function () {
      rsa = await makeSigner({ type: "rsa", bits: 2048 });
      p256 = await makeSigner({ type: "ec", curve: "P-256" });
    });

    it("keeps the event loop running during 200 RSA-2048 signatures (1 ms timer keeps firing)", async function () {
      let ticks = 0;
      let last = performance.now();
      let maxGap = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
        ticks++;
      }, 1);
      const started = performance.now();
      try {
        await signAndVerify(rsa, 200);
      } finally {
        clearInterval(timer);
      }
      maxGap = Math.max(maxGap, performance.now() - last);
      const elapsed = performance.now() - started;
      // Synchronous C_Sign would block the loop for the whole run (~1 ms per signature): one gap close to
      // the whole elapsed time and a handful of ticks. Async signing leaves the loop free. The bounds are
      // relative to the elapsed time, so a busy machine (GC, other processes) does not fail the test.
      assert.ok(maxGap < elapsed / 2, `longest gap between 1 ms ticks was ${maxGap.toFixed(1)} ms over ${elapsed.toFixed(0)} ms`);
      assert.ok(ticks >= elapsed / 20, `only ${ticks} ticks in ${elapsed.toFixed(0)} ms`);
    });

    it("never has more sessions in use than the pool size", async function () {
      metrics.maxInUse = 0;
      await signAndVerify(p256, 100);
      assert.ok(metrics.maxInUse >= 2, "signatures ran in parallel");
      assert.ok(metrics.maxInUse <= 4, `in use peaked at ${metrics.maxInUse}`);
      const h = await hsm.health();
      assert.ok(h.sessionsOpen <= 4);
      assert.equal(h.sessionsInUse, 0);
    });

    it("reports each signature to the metrics with its algorithm", async function () {
      metrics.signs = [];
      await rsa.sign(Buffer.from("x"));
      await p256.sign(Buffer.from("x"));
      assert.deepEqual(metrics.signs, [
        { algorithm: "sha256WithRSAEncryption", ok: true },
        { algorithm: "ecdsa-with-SHA256", ok: true },
      ]);
    });

    it("recovers when every session is closed under it (C_CloseAllSessions)", async function () {
      await signAndVerify(p256, 8); // sessions open and keys cached
      const { lib, slot } = rawLibrary(token);
      lib.C_CloseAllSessions(slot);
      metrics.errors = [];
      await signAndVerify(p256, 20);
      await signAndVerify(rsa, 5);
      assert.ok(metrics.errors.includes("session"), `errors seen: ${metrics.errors.join(",")}`);
      assert.ok((await hsm.health()).ok);
    });

    it("recovers after the application was logged out (C_Logout elsewhere)", async function () {
      await signAndVerify(rsa, 4);
      const { lib, slot } = rawLibrary(token);
      const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      lib.C_Logout(session); // login state is per application and token: every session is logged out
      lib.C_CloseSession(session);
      metrics.errors = [];
      await signAndVerify(rsa, 10);
      await signAndVerify(p256, 10);
      assert.ok(
        metrics.errors.some((k) => k === "login" || k === "object"),
        `errors seen: ${metrics.errors.join(",")}`,
      );
    });

    it("recovers after the library was finalized (C_Finalize elsewhere)", async function () {
      await signAndVerify(p256, 4);
      const { lib } = rawLibrary(token);
      lib.C_Finalize();
      metrics.errors = [];
      await signAndVerify(p256, 20);
      await signAndVerify(rsa, 5);
      assert.ok(metrics.errors.includes("module"), `errors seen: ${metrics.errors.join(",")}`);
      assert.ok((await hsm.health()).ok);
    });

    it("fails with CaError unavailable when the token is gone for good, and says so in health()", async function () {
      const other = await Pkcs11Hsm.open({ modulePath: doomed.modulePath, tokenLabel: doomed.tokenLabel, pin: doomed.pin });
      try {
        const { uri } = await other.generateKey("k", { type: "ec", curve: "P-256" });
        const signer = await other.signer(uri, "ecdsa-with-SHA256");
        await signAndVerify(signer, 2);
        execFileSync("softhsm2-util", ["--delete-token", "--token", doomed.tokenLabel], { stdio: "ignore" });
        const lib = new pkcs11js.PKCS11();
        lib.load(doomed.modulePath);
        lib.C_Finalize(); // SoftHSM re-reads its tokens at C_Initialize
        await assert.rejects(signer.sign(Buffer.from("x")), (e: unknown) => {
          assert.ok(e instanceof CaError, String(e));
          assert.equal(e.kind, "unavailable");
          assert.match(e.message, /not found/);
          assert.ok(!e.message.includes(doomed.pin), "no PIN in messages");
          return true;
        });
        const h = await other.health();
        assert.equal(h.ok, false);
        assert.match(h.detail, /not found/);
      } finally {
        await other.close();
      }
      // The main token is unaffected (it recovers from the finalize above).
      await signAndVerify(rsa, 3);
    });
  });
});
