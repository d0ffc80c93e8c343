import assert from "node:assert/strict";
import { mkdir, readFile, rm } from "node:fs/promises";
import https from "node:https";
import Koa from "koa";
import { listen } from "../../../api/listeners.js";
import { join } from "node:path";
import { buildHandlers, type Handlers, type Service } from "../../../api/main.js";
import { FixedClock } from "../../../ca/ports.js";
import { deleteTestToken, createTestToken, type TestToken } from "../../support/softhsm.js";
import { repoRoot } from "../../support/service-harness.js";
import { assertAuditCheckpoint, assertCeremonyKeys, assertOcspVerifiedByOpenssl, ceremony, openServiceOn, tokenKeyType } from "./service-key-checks.js";

/**
 * `hsm.serviceKeyType` "rsa-2048" on SoftHSM (api/config.ts; docs/hsm-vendors.md §"Mechanisms"): the
 * service's own keys — OCSP responders, service CA, audit checkpoint key — are RSA, everything they sign
 * verifies (responder and TLS certificates, OCSP answers through `openssl ocsp`, audit checkpoints), and a
 * responder renewed by the service gets an RSA key too. The ceremony runs 61 days in the past (a fixed
 * clock), so its 90-day responder certificates are due for renewal now.
 */
describe("service keys of type rsa-2048 on SoftHSM", function () {
  this.timeout(60_000);
  const DAY = 86_400_000;
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  const clock = new FixedClock(new Date(now.getTime() - 61 * DAY));
  const varDir = join(repoRoot, "var/test/e2e", `rsa-service-keys-${process.pid}`);
  let token: TestToken | undefined;
  let service: Service | undefined;
  let handlers: Handlers | undefined;
  let first: { error: unknown; lines: string[] };

  before(async () => {
    token = createTestToken("rsa-service-keys");
    await rm(varDir, { recursive: true, force: true });
    service = await openServiceOn(token, varDir, { CA_HSM_SERVICE_KEY_TYPE: "rsa-2048" }, clock);
    first = await ceremony(service);
    clock.set(now);
  });

  after(async () => {
    await handlers?.ocsp.stop();
    await service?.close();
    if (token) deleteTestToken(token);
    await rm(varDir, { recursive: true, force: true });
  });

  const wired = async (): Promise<Handlers> => {
    assert.equal(first.error, undefined, String(first.error));
    handlers ??= (await buildHandlers(service!)).handlers;
    return handlers;
  };

  it("the ceremony makes RSA-2048 responder and service CA keys; the certificates they are in verify", async () => {
    assert.equal(first.error, undefined, `${String(first.error)}\n${first.lines.join("\n")}`);
    await assertCeremonyKeys(service!, "RSA-2048");
  });

  it("the HTTPS listener on the RSA-signed TLS material: the demo terminal's certificate is accepted, no certificate is refused", async () => {
    assert.equal(first.error, undefined, String(first.error));
    const tls = join(service!.config.varDir, "tls");
    const demo = service!.config.demoDir;
    const app = new Koa().use((ctx) => {
      ctx.body = "ok";
    });
    const listeners = await listen(app, {
      http: { host: "127.0.0.1", port: 0 },
      https: { host: "127.0.0.1", port: 0 },
      tls: { cert: await readFile(join(tls, "server.pem"), "utf8"), key: await readFile(join(tls, "server.key"), "utf8"), clientCa: await readFile(join(tls, "service-ca.pem"), "utf8") },
    });
    const tlsCa = await readFile(join(demo, "tls-ca.pem"), "utf8");
    try {
      const get = (client: { cert: string; key: string } | undefined): Promise<string> =>
        new Promise((resolve, reject) => {
          const req = https.get(`${listeners.httpsUrl}/`, { ca: tlsCa, ...client, agent: false }, (res) => {
            let body = "";
            res.on("data", (c: Buffer) => (body += c.toString()));
            res.on("end", () => resolve(`${res.statusCode} ${body}`));
          });
          req.on("error", reject);
        });
      const terminal = { cert: await readFile(join(demo, "terminal.pem"), "utf8"), key: await readFile(join(demo, "terminal.key"), "utf8") };
      assert.equal(await get(terminal), "200 ok");
      await assert.rejects(get(undefined));
    } finally {
      await listeners.close();
    }
  });

  it("the audit checkpoint key is made RSA-2048; a checkpoint signed with it verifies", async () => {
    const h = await wired();
    assert.equal(await tokenKeyType(service!, "audit-checkpoint"), "RSA-2048");
    assert.deepEqual(await assertAuditCheckpoint(h), { algorithm: "sha256WithRSAEncryption", keyType: "RSA-2048" });
  });

  it("responders renewed by the service get RSA-2048 keys; answers signed with them are verified by openssl ocsp", async () => {
    const h = await wired();
    const outcomes = await h.ocsp.renewResponders();
    assert.deepEqual(outcomes.map((o) => `${o.caId} ${o.action}`).sort(), ["auth-g1 renewed", "sign-g1 renewed"]);
    const dir = join(varDir, "openssl");
    await mkdir(dir, { recursive: true });
    for (const gen of await service!.stores.caGenerations.list()) {
      assert.match(gen.ocspResponderKeyUri ?? "", new RegExp(`object=${gen.id}-ocsp-2;`));
      assert.equal(await tokenKeyType(service!, `${gen.id}-ocsp-2`), "RSA-2048");
      assert.equal(h.ocsp.responders.get(gen.id)?.responder.signer.algorithm, "sha256WithRSAEncryption");
      const text = await assertOcspVerifiedByOpenssl(h, gen, dir);
      assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
    }
  });
});
