import assert from "node:assert/strict";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { buildHandlers, type Handlers, type Service } from "../../../api/main.js";
import { CaError } from "../../../ca/errors.js";
import { repoRoot } from "../../support/service-harness.js";
import { requireOpencryptoki, takeOpencryptokiToken, type OckToken } from "./opencryptoki-token.js";
import { assertAuditCheckpoint, assertCeremonyKeys, assertOcspVerifiedByOpenssl, ceremony as runOn, openServiceOn, tokenKeyType } from "./service-key-checks.js";

/**
 * The key ceremony (cli/ceremony.ts, docs/api.md §8 `init`) on opencryptoki's software token, configured
 * the way an operator points the service at another HSM: CA_HSM_MODULE / CA_HSM_TOKEN_LABEL / CA_HSM_PIN
 * (api/config.ts `hsm`). opencryptoki 3.8.1 makes RSA keys only, while the service's own keys (OCSP
 * responders, service CA, audit checkpoints) are P-256 by default (docs/hsm-vendors.md §"Mechanisms"): with
 * the default the ceremony must stop with a message naming what the token lacks, record nothing half-made,
 * and resume without a second CA key; with `hsm.serviceKeyType` "rsa-2048" it completes.
 */
describe("key ceremony on opencryptoki (software token), default service key type", function () {
  this.timeout(60_000);
  let token: OckToken;
  let service: Service | undefined;
  const varDir = join(repoRoot, "var/test/e2e", `ock-ceremony-${process.pid}`);

  before(async function () {
    requireOpencryptoki(this);
    token = await takeOpencryptokiToken();
    await rm(varDir, { recursive: true, force: true });
    service = await openServiceOn(token, varDir);
  });

  after(async function () {
    await service?.close();
    token?.release();
    await rm(varDir, { recursive: true, force: true });
  });

  const ceremony = (): Promise<{ error: unknown; lines: string[] }> => runOn(service!);

  it("the service opens on the token: health names opencryptoki's software token", async function () {
    const h = await service!.hsm.health();
    assert.equal(h.ok, true, h.detail);
    assert.match(h.detail, new RegExp(`token "${token.tokenLabel}" \\(IBM SoftTok`));
  });

  it("makes the RSA CA key in the token, then stops at the P-256 responder key naming the missing mechanism", async function () {
    const { error, lines } = await ceremony();
    assert.ok(error instanceof CaError, String(error));
    assert.equal(error.kind, "unprocessable");
    assert.match(error.message, /does not offer CKM_EC_KEY_PAIR_GEN: it cannot generate P-256 keys/);
    assert.ok(lines.includes("  key sign-g1: generated in the token (sensitive, non-extractable)"), lines.join("\n"));
    // The CA key is a real token key: sensitive, never extractable, sign only.
    const attributes = await service!.hsm.keyAttributes(`pkcs11:object=sign-g1;type=private`);
    assert.equal(attributes.sensitive && attributes.neverExtractable && attributes.sign, true);
    assert.equal(attributes.extractable || attributes.decrypt || attributes.unwrap || attributes.derive, false);
    // Nothing half-made is recorded: no CA generation without its responder.
    assert.deepEqual(await service!.stores.caGenerations.list(), []);
    assert.equal(await service!.hsm.hasKey("sign-g1-ocsp-1"), false);
  });

  it("a second run resumes: the CA key is reused (never generated twice) and it stops at the same place", async function () {
    const first = await service!.hsm.findKey("sign-g1");
    assert.ok(first, "sign-g1 kept in the token");
    const { error, lines } = await ceremony();
    assert.ok(error instanceof CaError && /CKM_EC_KEY_PAIR_GEN/.test(error.message), String(error));
    assert.ok(lines.includes("  key sign-g1: already in the token, reused"), lines.join("\n"));
    assert.deepEqual((await service!.hsm.findKey("sign-g1"))?.publicKey, first.publicKey);
    assert.deepEqual(await service!.stores.caGenerations.list(), []);
  });
});

/**
 * The same token with `hsm.serviceKeyType` "rsa-2048" (CA_HSM_SERVICE_KEY_TYPE): the ceremony completes —
 * RSA CA keys, RSA responders, RSA service CA — the service wires up (the audit checkpoint key is RSA too),
 * and an OCSP answer signed by the RSA responder in opencryptoki is verified by `openssl ocsp`.
 */
describe("key ceremony on opencryptoki (software token), hsm.serviceKeyType rsa-2048", function () {
  this.timeout(60_000);
  let token: OckToken;
  let service: Service | undefined;
  let handlers: Handlers | undefined;
  let first: { error: unknown; lines: string[] };
  const varDir = join(repoRoot, "var/test/e2e", `ock-ceremony-rsa-${process.pid}`);

  before(async function () {
    requireOpencryptoki(this);
    token = await takeOpencryptokiToken();
    await rm(varDir, { recursive: true, force: true });
    service = await openServiceOn(token, varDir, { CA_HSM_SERVICE_KEY_TYPE: "rsa-2048" });
    first = await runOn(service);
  });

  /** The service wired on the token after the ceremony (built once, by whichever test needs it first). */
  const wired = async (): Promise<Handlers> => {
    assert.equal(first.error, undefined, String(first.error));
    handlers ??= (await buildHandlers(service!)).handlers;
    return handlers;
  };

  after(async function () {
    await handlers?.ocsp.stop();
    await service?.close();
    token?.release();
    await rm(varDir, { recursive: true, force: true });
  });

  it("completes: CA keys, OCSP responders and the service CA are RSA-2048 keys in the token", async function () {
    assert.deepEqual(service!.config.hsm.serviceKeySpec, { type: "rsa", bits: 2048 });
    const { error, lines } = first;
    assert.equal(error, undefined, `${String(error)}\n${lines.join("\n")}`);
    for (const label of ["sign-g1", "sign-g1-ocsp-1", "auth-g1", "auth-g1-ocsp-1", "service-ca"]) {
      assert.ok(lines.includes(`  key ${label}: generated in the token (sensitive, non-extractable)`), lines.join("\n"));
      const attributes = await service!.hsm.keyAttributes(`pkcs11:object=${label};type=private`);
      assert.equal(attributes.sensitive && attributes.neverExtractable && attributes.sign, true, label);
    }
    await assertCeremonyKeys(service!, "RSA-2048");
    const again = await runOn(service!);
    assert.equal(again.error, undefined, String(again.error));
    assert.ok(again.lines.includes("sign-g1: exists") && again.lines.includes("  key service-ca: already in the token, reused"), again.lines.join("\n"));
  });

  it("the service wires up on the token: the audit checkpoint key is RSA-2048 and its checkpoint verifies", async function () {
    const h = await wired();
    assert.equal(await tokenKeyType(service!, "audit-checkpoint"), "RSA-2048");
    assert.deepEqual(await assertAuditCheckpoint(h), { algorithm: "sha256WithRSAEncryption", keyType: "RSA-2048" });
  });

  it("an OCSP answer signed by the RSA responder in opencryptoki is verified by openssl ocsp", async function () {
    const h = await wired();
    const dir = join(varDir, "openssl");
    await mkdir(dir, { recursive: true });
    for (const gen of await service!.stores.caGenerations.list()) {
      const text = await assertOcspVerifiedByOpenssl(h, gen, dir);
      assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
    }
  });
});
