import { generateKeyPairSync } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { defaultAlgorithm } from "../ca/profiles/algorithms.js";
import type { ServiceRole } from "../ca/operators/client-identity.js";
import type { Signer } from "../ca/ports.js";
import { buildClientCertificate, buildServerCertificate, buildServiceCaCertificate } from "../ca/operators/service-ca.js";
import { caIdOf } from "../ca/types.js";
import { publicKeySpec } from "../ca/x509/public-key.js";
import { fromPem, pem } from "../ca/x509/pem.js";
import { TerminalRegistry } from "../ca/operators/terminal-registry.js";
import { ClientRegister } from "../ca/operators/client-register.js";
import { operatorRoles, type OperatorRole } from "../ca/operators/roles.js";
import { confirmOnHost, operatorAuthOf } from "./operator-commands.js";
import { ceremonySerial, ensureCaGeneration, tokenKey, type Service } from "../api/main.js";

/**
 * The key ceremony (docs/api.md §8 `init`). Every step first looks for what it would create and keeps it,
 * so running `init` twice changes nothing, and an interrupted ceremony resumes where it stopped
 * (a key generated in the token but not yet recorded is reused, never generated twice).
 */
export interface CeremonyReport {
  readonly created: string[];
}

type Log = (line: string) => void;

const SERVICE_CA_LABEL = "service-ca";

export async function caExists(service: Service): Promise<boolean> {
  const gens = await service.stores.caGenerations.list();
  return (["sign", "auth"] as const).every((k) => gens.some((g) => g.kind === k));
}

export async function runCeremony(service: Service, log: Log): Promise<CeremonyReport> {
  const created: string[] = [];
  for (const kind of ["sign", "auth"] as const) {
    if (await ensureCaGeneration(service, kind, 1, log, "cli:init")) created.push(caIdOf(kind, 1));
  }
  const serviceCa = await ensureServiceCa(service, log);
  service.setServiceCa(serviceCa);
  if (serviceCa.created) created.push("service-ca");
  if (await ensureServerCertificate(service, serviceCa, log)) created.push("tls-server");
  if (service.config.mode === "demo") {
    for (const made of await ensureDemoCredentials(service, serviceCa, log)) created.push(made);
  }
  return { created };
}

export interface ServiceCaMaterial {
  readonly signer: Signer;
  readonly certificate: Uint8Array;
  readonly created: boolean;
}

const tlsPath = (service: Service, file: string): string => join(service.config.varDir, "tls", file);

/**
 * The internal service CA of the mTLS listener: key in the token, certificate under var/tls. A new key is
 * of `hsm.serviceKeyType` (P-256 by default, RSA for a token without EC: docs/hsm-vendors.md); the
 * signature algorithm follows the key, so a key made under another setting keeps working.
 */
export async function ensureServiceCa(service: Service, log: Log): Promise<ServiceCaMaterial> {
  const key = await tokenKey(service, SERVICE_CA_LABEL, service.config.hsm.serviceKeySpec, log);
  const signer = await service.hsm.signer(key.uri, defaultAlgorithm(publicKeySpec(key.publicKey)));
  const file = tlsPath(service, "service-ca.pem");
  if (existsSync(file)) {
    const certificate = fromPem(await readFile(file, "utf8"), "CERTIFICATE");
    return { signer, certificate, created: false };
  }
  const certificate = await buildServiceCaCertificate({ signer, serial: ceremonySerial(service.random), notBefore: service.clock.now() });
  await writeSecret(file, pem(certificate, "CERTIFICATE"), 0o600);
  await service.stores.audit.append({ at: service.clock.now(), action: "service-ca.created", actor: "cli:init", subject: "service-ca", outcome: "success", detail: { keyUri: key.uri } });
  log(`service CA: certificate written to ${file}`);
  return { signer, certificate, created: true };
}

/** A software P-256 key pair (TLS server and demo client keys: Node's TLS stack needs the key in memory). */
function softwareKey(): { spki: Uint8Array; pkcs8Pem: string } {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { spki: new Uint8Array(publicKey.export({ type: "spki", format: "der" })), pkcs8Pem: privateKey.export({ type: "pkcs8", format: "pem" }).toString() };
}

async function ensureServerCertificate(service: Service, ca: ServiceCaMaterial, log: Log): Promise<boolean> {
  const certFile = tlsPath(service, "server.pem");
  const keyFile = tlsPath(service, "server.key");
  if (existsSync(certFile) && existsSync(keyFile) && !ca.created) return false;
  const key = softwareKey();
  const host = service.config.https.host;
  const isIp = /^[0-9.]+$|:/.test(host);
  const certificate = await buildServerCertificate({
    caCertificate: ca.certificate,
    caSigner: ca.signer,
    subjectPublicKey: key.spki,
    serial: ceremonySerial(service.random),
    notBefore: service.clock.now(),
    dnsNames: ["localhost", ...(!isIp && host !== "localhost" ? [host] : [])],
    ips: [...new Set(["127.0.0.1", "::1", ...(isIp && host !== "0.0.0.0" && host !== "::" ? [host] : [])])],
  });
  await writeSecret(keyFile, key.pkcs8Pem, 0o600);
  await writeSecret(certFile, pem(certificate, "CERTIFICATE"), 0o600);
  log(`TLS server certificate written to ${certFile}`);
  return true;
}

/** Issues a client certificate of the service CA with a fresh software key; returns PEMs. */
export async function issueClientCredential(
  service: Service,
  ca: Pick<ServiceCaMaterial, "signer" | "certificate">,
  identity: { role: ServiceRole; id: string; municipalityCode?: string },
): Promise<{ certificate: Uint8Array; certPem: string; keyPem: string }> {
  const key = softwareKey();
  const certificate = await buildClientCertificate({
    caCertificate: ca.certificate,
    caSigner: ca.signer,
    subjectPublicKey: key.spki,
    serial: ceremonySerial(service.random),
    notBefore: service.clock.now(),
    ...identity,
  });
  return { certificate, certPem: pem(certificate, "CERTIFICATE"), keyPem: key.pkcs8Pem };
}

/** docs/api.md §1 demo credentials, written only in demo mode. */
async function ensureDemoCredentials(service: Service, ca: ServiceCaMaterial, log: Log): Promise<string[]> {
  const dir = service.config.demoDir;
  const made: string[] = [];
  const anchor = join(dir, "tls-ca.pem");
  if (!existsSync(anchor) || ca.created) {
    await writeSecret(anchor, pem(ca.certificate, "CERTIFICATE"), 0o600);
    made.push("demo/tls-ca.pem");
  }
  // The demo terminal is enrolled like any other (terminals table), open around the clock so a first
  // run works at any hour; real terminals get the default 08:30–17:15 working-day schedule.
  const terminalCert = join(dir, "terminal.pem");
  if (!existsSync(terminalCert) || ca.created) {
    const registry = new TerminalRegistry({
      terminals: service.stores.terminals,
      sessions: service.stores.operatorSessions,
      audit: service.stores.audit,
      transactions: service.db,
      clock: service.clock,
      random: service.random,
      serviceCa: ca,
    });
    const existing = await service.stores.terminals.get("demo-terminal-1");
    if (existing?.status === "active") await registry.revoke("cli", "demo-terminal-1");
    const enrolled = await registry.enrol("cli", {
      terminalId: "demo-terminal-1",
      municipalityCode: "131041",
      operatingHours: { open: "00:00", close: "24:00", weekdays: [1, 2, 3, 4, 5, 6, 7], openOnHolidays: true },
    });
    await writeSecret(join(dir, "terminal.key"), pem(enrolled.privateKeyPkcs8, "PRIVATE KEY"), 0o600);
    await writeSecret(terminalCert, pem(enrolled.certificate, "CERTIFICATE"), 0o600);
    made.push("demo/terminal");
    log(`demo credential: ${terminalCert} (enrolled terminal demo-terminal-1)`);
  }
  const operatorsFile = join(dir, "operators.json");
  {
    const auth = operatorAuthOf(service);
    const had = existsSync(operatorsFile);
    const operators = had ? (JSON.parse(await readFile(operatorsFile, "utf8")) as Record<string, { operatorId: string; password: string }>) : {};
    // Issue 12: two security officers, so account changes can be four-eyes from the start (key
    // "security-officer-2", also added to a demo set-up made before); ceremony accounts are confirmed
    // by the ceremony (nobody exists to confirm them).
    const demoAccounts: Array<[string, OperatorRole, string]> = [...operatorRoles.map((r): [string, OperatorRole, string] => [r, r, `demo-${r}`]), ["security-officer-2", "security-officer", "demo-security-officer-2"]];
    let added = 0;
    for (const [key, role, operatorId] of demoAccounts) {
      if (operators[key] !== undefined) continue;
      if (await service.stores.operators.get(operatorId)) throw new Error(`operator ${operatorId} exists but is not in ${operatorsFile}: remove the account or restore the file`);
      const result = await auth.addOperator("cli", { operatorId, roles: [role], displayName: `demo ${key}`, ready: true });
      if (!result.oneTimePassword) throw new Error(`no password generated for ${operatorId}`);
      await confirmOnHost(service, operatorId, "cli:init");
      operators[key] = { operatorId, password: result.oneTimePassword };
      added++;
    }
    if (added > 0) {
      await writeSecret(operatorsFile, JSON.stringify(operators, null, 2) + "\n", 0o600);
      made.push("demo/operators.json");
      log(`demo operators (one per role, two security officers): ${operatorsFile}`);
    }
  }
  const rpFile = join(dir, "relying-party.json");
  if (!existsSync(rpFile)) {
    const existing = await service.stores.relyingParties.get("demo-relying-party");
    if (existing) await service.stores.relyingParties.setActive("demo-relying-party", false);
    const id = existing ? `demo-relying-party-${Date.now()}` : "demo-relying-party";
    const { apiKey } = await service.relyingParties.register("cli:init", { id, name: "demo relying party" });
    await writeSecret(rpFile, JSON.stringify({ id, apiKey }, null, 2) + "\n", 0o600);
    made.push("demo/relying-party.json");
    log(`demo relying party API key: ${rpFile}`);
  }
  const clients: Array<{ file: string; role: ServiceRole; id: string; municipalityCode?: string }> = [
    { file: "admin", role: "admin", id: "demo-admin-1" },
    { file: "feed", role: "feed", id: "demo-feed" },
    { file: "relying-party", role: "relying-party", id: "demo-relying-party" },
  ];
  // Issue 12: admin and feed certificates are honoured only while registered (ca/operators/client-register.ts).
  const register = new ClientRegister({ store: service.stores.clientCertificates, sessions: service.stores.operatorSessions, audit: service.stores.audit, transactions: service.db, clock: service.clock, random: service.random });
  for (const c of clients) {
    const certFile = join(dir, `${c.file}.pem`);
    const registered = c.role === "admin" || c.role === "feed" ? c.role : undefined;
    if (existsSync(certFile) && !ca.created) {
      // A var dir from before the register: register the certificate already handed out.
      if (registered && (await service.stores.clientCertificates.get(registered, c.id))?.status !== "active") {
        await register.register("cli", { kind: registered, certificate: fromPem(await readFile(certFile, "utf8"), "CERTIFICATE"), description: `demo ${c.file}` });
      }
      continue;
    }
    const cred = await issueClientCredential(service, ca, c);
    if (registered) await register.register("cli", { kind: registered, certificate: cred.certificate, description: `demo ${c.file}`, replace: true });
    await writeSecret(join(dir, `${c.file}.key`), cred.keyPem, 0o600);
    await writeSecret(certFile, cred.certPem, 0o600);
    made.push(`demo/${c.file}`);
    log(`demo credential: ${certFile}`);
  }
  return made;
}

async function writeSecret(file: string, content: string, mode: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, content, { mode });
  await chmod(file, mode);
}
