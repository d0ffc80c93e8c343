import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { loadConfig, type Config } from "../../../api/config.js";
import { createLogger } from "../../../api/logger.js";
import { openService, type Handlers, type Service } from "../../../api/main.js";
import { runCeremony } from "../../../cli/ceremony.js";
import type { Clock } from "../../../ca/ports.js";
import type { CaGeneration } from "../../../ca/types.js";
import { pem } from "../../../ca/x509/pem.js";
import { keySpecLabel, publicKeySpec } from "../../../ca/x509/public-key.js";
import { repoRoot } from "../../support/service-harness.js";
import { buildRequest, certIdUnder } from "../../unit/ocsp/fixtures.js";

/**
 * Shared checks of the service's own keys (`hsm.serviceKeyType`, api/config.ts; docs/hsm-vendors.md
 * §"Mechanisms"): the ceremony on a token, the key types it made, OCSP answers verified by `openssl ocsp`,
 * and an audit checkpoint. Used with opencryptoki (RSA only) and SoftHSM.
 */

/** A token as both test helpers describe it (test/support/softhsm.ts, opencryptoki-token.ts). */
export interface TokenAccess {
  readonly modulePath: string;
  readonly tokenLabel: string;
  readonly pin: string;
  /** SoftHSM only. */
  readonly confPath?: string;
}

/** Opens the service on `token` (PGlite in memory, silent log), with extra environment settings. */
export async function openServiceOn(token: TokenAccess, varDir: string, env: NodeJS.ProcessEnv = {}, clock?: Clock): Promise<Service> {
  const loaded = loadConfig(
    {
      CA_CONFIG: join(repoRoot, "config/default.json"),
      CA_MODE: "demo",
      CA_VAR_DIR: varDir,
      CA_HSM_MODULE: token.modulePath,
      CA_HSM_TOKEN_LABEL: token.tokenLabel,
      CA_HSM_PIN: token.pin,
      ...(token.confPath ? { SOFTHSM2_CONF: token.confPath } : {}),
      CA_HTTP_PORT: "0",
      CA_HTTPS_PORT: "0",
      CA_METRICS_PORT: "0",
      CA_LOG_LEVEL: "silent",
      ...env,
    },
    repoRoot,
  );
  const config: Config = Object.freeze({ ...loaded, database: Object.freeze({ url: null, dataDir: "memory://" }) });
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  return openService(config, { logger: createLogger("silent", sink), ...(clock ? { clock } : {}) });
}

/** Runs the ceremony; returns what it printed, or the error it stopped with. */
export async function ceremony(service: Service): Promise<{ error: unknown; lines: string[] }> {
  const lines: string[] = [];
  try {
    await runCeremony(service, (l) => void lines.push(l));
  } catch (error) {
    return { error, lines };
  }
  return { error: undefined, lines };
}

/** "RSA-2048", "P-256", … of a key in the token. */
export async function tokenKeyType(service: Service, label: string): Promise<string> {
  const key = await service.hsm.findKey(label);
  assert.ok(key, `${label} is in the token`);
  return keySpecLabel(publicKeySpec(key.publicKey));
}

/**
 * After a complete ceremony: both CA generations with a responder of `serviceKeyType` whose certificate the
 * CA signed, and a service CA of that type whose certificate signs the TLS server and demo client certificates.
 */
export async function assertCeremonyKeys(service: Service, serviceKeyType: string): Promise<CaGeneration[]> {
  const gens = await service.stores.caGenerations.list();
  assert.deepEqual(gens.map((g) => g.id).sort(), ["auth-g1", "sign-g1"]);
  for (const g of gens) {
    assert.equal(await tokenKeyType(service, g.id), "RSA-2048", `${g.id}: ca.keySpec`);
    assert.equal(await tokenKeyType(service, `${g.id}-ocsp-1`), serviceKeyType, `${g.id}: responder key`);
    assert.ok(g.ocspResponderCertificate, `${g.id}: responder certificate`);
    const responder = new X509Certificate(Buffer.from(g.ocspResponderCertificate));
    const ca = new X509Certificate(Buffer.from(g.certificate));
    assert.equal(keySpecLabel(publicKeySpec(new Uint8Array(responder.publicKey.export({ type: "spki", format: "der" })))), serviceKeyType);
    assert.ok(responder.verify(ca.publicKey), `${g.id}: the CA signed the responder certificate`);
    assert.equal(responder.checkIssued(ca), true);
  }
  assert.equal(await tokenKeyType(service, "service-ca"), serviceKeyType, "service CA key");
  const tls = join(service.config.varDir, "tls");
  const serviceCa = new X509Certificate(await readFile(join(tls, "service-ca.pem")));
  assert.equal(keySpecLabel(publicKeySpec(new Uint8Array(serviceCa.publicKey.export({ type: "spki", format: "der" })))), serviceKeyType);
  assert.ok(serviceCa.verify(serviceCa.publicKey), "service CA certificate self-signed");
  for (const file of [join(tls, "server.pem"), join(service.config.demoDir, "terminal.pem"), join(service.config.demoDir, "admin.pem")]) {
    const leaf = new X509Certificate(await readFile(file));
    assert.ok(leaf.verify(serviceCa.publicKey), `${file}: signed by the service CA`);
  }
  return gens;
}

interface Run {
  readonly code: number;
  readonly out: string;
}
export function openssl(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile("openssl", args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code ?? 1) : 0;
      resolve({ code: typeof code === "number" ? code : 1, out: `${stdout}\n${stderr}` });
    });
  });
}

/**
 * Asks the OCSP responder of `handlers` about a serial `gen` never issued, and has `openssl ocsp` verify the
 * answer twice: trusting the CA (through the delegated responder certificate, -CAfile) and trusting the
 * responder certificate itself (-VAfile). @returns openssl's text of the response
 */
export async function assertOcspVerifiedByOpenssl(handlers: Pick<Handlers, "ocsp">, gen: CaGeneration, dir: string): Promise<string> {
  const serial = `${gen.serialPrefix.toString(16).padStart(2, "0")}c0ffee0000000000000000000000be`;
  const answer = await handlers.ocsp.responder.answer(buildRequest([certIdUnder(gen.certificate, serial)]));
  const files = { ca: join(dir, `${gen.id}-ca.pem`), responder: join(dir, `${gen.id}-responder.pem`), response: join(dir, `${gen.id}-response.der`) };
  await writeFile(files.ca, pem(gen.certificate, "CERTIFICATE"));
  await writeFile(files.responder, pem(gen.ocspResponderCertificate!, "CERTIFICATE"));
  await writeFile(files.response, answer.der);
  let text = "";
  for (const trust of [["-CAfile", files.ca], ["-VAfile", files.responder]]) {
    const r = await openssl(["ocsp", "-issuer", files.ca, "-serial", `0x${serial}`, "-respin", files.response, "-no_nonce", "-resp_text", ...trust]);
    assert.match(r.out, /Response verify OK/, r.out);
    assert.match(r.out, new RegExp(`0x${serial}: revoked`, "i"), r.out); // never issued: revoked, certificateHold (docs/ocsp.md)
    assert.equal(r.code, 0, r.out);
    text = r.out;
  }
  return text;
}

/** A manual audit checkpoint signed by the checkpoint key, and the chain verifying with it. @returns its algorithm */
export async function assertAuditCheckpoint(handlers: Pick<Handlers, "admin">): Promise<{ algorithm: string; keyType: string }> {
  const checkpoint = await handlers.admin.checkpointer.checkpoint("manual", "test");
  assert.ok(checkpoint, "a checkpoint was made");
  const verification = await handlers.admin.verifier.verify();
  assert.equal(verification.ok, true, JSON.stringify(verification));
  assert.ok(verification.checkpoints.valid >= 1, JSON.stringify(verification.checkpoints));
  return { algorithm: checkpoint.algorithm, keyType: keySpecLabel(publicKeySpec(checkpoint.publicKey)) };
}
