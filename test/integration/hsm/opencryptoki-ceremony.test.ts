import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { loadConfig, type Config } from "../../../api/config.js";
import { createLogger } from "../../../api/logger.js";
import { openService, type Service } from "../../../api/main.js";
import { CaError } from "../../../ca/errors.js";
import { runCeremony } from "../../../cli/ceremony.js";
import { repoRoot } from "../../support/service-harness.js";
import { requireOpencryptoki, takeOpencryptokiToken, type OckToken } from "./opencryptoki-token.js";

/**
 * The key ceremony (cli/ceremony.ts, docs/api.md §8 `init`) on opencryptoki's software token, configured
 * the way an operator points the service at another HSM: CA_HSM_MODULE / CA_HSM_TOKEN_LABEL / CA_HSM_PIN
 * (api/config.ts `hsm`). opencryptoki 3.8.1 makes RSA keys only, while the ceremony's OCSP responder and
 * service CA keys are P-256 (docs/hsm-vendors.md §"Mechanisms"): the ceremony must stop with a message
 * naming what the token lacks, record nothing half-made, and resume without a second CA key.
 */
describe("key ceremony on opencryptoki (software token)", function () {
  this.timeout(60_000);
  let token: OckToken;
  let service: Service | undefined;
  const varDir = join(repoRoot, "var/test/e2e", `ock-ceremony-${process.pid}`);

  before(async function () {
    requireOpencryptoki(this);
    token = await takeOpencryptokiToken();
    await rm(varDir, { recursive: true, force: true });
    const loaded = loadConfig(
      {
        CA_CONFIG: join(repoRoot, "config/default.json"),
        CA_MODE: "demo",
        CA_VAR_DIR: varDir,
        CA_HSM_MODULE: token.modulePath,
        CA_HSM_TOKEN_LABEL: token.tokenLabel,
        CA_HSM_PIN: token.pin,
        CA_HTTP_PORT: "0",
        CA_HTTPS_PORT: "0",
        CA_METRICS_PORT: "0",
        CA_LOG_LEVEL: "silent",
      },
      repoRoot,
    );
    const config: Config = Object.freeze({ ...loaded, database: Object.freeze({ url: null, dataDir: "memory://" }) });
    const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
    service = await openService(config, { logger: createLogger("silent", sink) });
  });

  after(async function () {
    await service?.close();
    token?.release();
    await rm(varDir, { recursive: true, force: true });
  });

  const ceremony = async (): Promise<{ error: unknown; lines: string[] }> => {
    const lines: string[] = [];
    try {
      await runCeremony(service!, (l) => void lines.push(l));
    } catch (error) {
      return { error, lines };
    }
    return { error: undefined, lines };
  };

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
