import { existsSync } from "node:fs";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Service } from "../api/main.js";
import { ClientRegister, type RegisteredClientKind } from "../ca/operators/client-register.js";
import { CaError } from "../ca/errors.js";
import type { ServiceCaMaterial } from "../ca/operators/terminal-registry.js";
import { pem } from "../ca/x509/pem.js";

/**
 * `workstation enrol|revoke|list` and `feed enrol|revoke|list` (issue 12 item 2): the register of admin
 * workstation and resident feed client certificates, from the CA host. The CLI acts as the local
 * security officer; every action is audited with actor "cli". The same as the admin API's
 * /v1/admin/workstations and /v1/admin/feeds. This is how a deployment gets its first admin workstation.
 */
export type ClientCertificateCliService = Pick<Service, "db" | "clock" | "random"> & {
  readonly config: Pick<Service["config"], "varDir">;
  readonly stores: Pick<Service["stores"], "audit" | "operatorSessions" | "clientCertificates">;
  readonly serviceCa: ServiceCaMaterial;
};

type Print = (line: string) => void;

const nouns: Readonly<Record<RegisteredClientKind, string>> = { admin: "workstation", feed: "feed", "holder-portal": "holder-portal" };

export const clientCertificateUsage = (kind: RegisteredClientKind): string => `${nouns[kind]} enrol <id> [--out <dir>] | ${nouns[kind]} revoke <id> | ${nouns[kind]} list`;

function registerOf(service: ClientCertificateCliService): ClientRegister {
  return new ClientRegister({
    store: service.stores.clientCertificates,
    sessions: service.stores.operatorSessions,
    audit: service.stores.audit,
    transactions: service.db,
    clock: service.clock,
    random: service.random,
    serviceCa: () => service.serviceCa,
  });
}

/** Runs one sub-command for `kind`; returns the exit code. */
export async function clientCertificateCommand(service: ClientCertificateCliService, kind: RegisteredClientKind, args: string[], print: Print = console.log): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { out: { type: "string" } } });
  const [id, ...extra] = positionals;
  const usage = `usage: ${clientCertificateUsage(kind)}`;
  if (sub === "list") {
    if (id !== undefined) throw new CaError("invalid-input", usage);
    for (const r of await registerOf(service).list(kind)) print(`${r.clientId}\t${r.status}\tserial ${r.clientCertSerial}\tenrolled ${r.enrolledAt.toISOString()}${r.revokedAt ? `\trevoked ${r.revokedAt.toISOString()}` : ""}`);
    return 0;
  }
  if (id === undefined || extra.length > 0) throw new CaError("invalid-input", usage);
  if (sub === "revoke") {
    await registerOf(service).revoke("cli", kind, id);
    print(`${nouns[kind]} ${id} revoked; its certificate is refused from now on and its sessions are ended`);
    return 0;
  }
  if (sub !== "enrol") throw new CaError("invalid-input", usage);
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(id)) throw new CaError("invalid-input", "id must be 1–64 of [A-Za-z0-9._:-]", { field: "id" });
  const dir = resolve(values.out ?? join(service.config.varDir, `${nouns[kind]}s`));
  const base = id.replace(/:/g, "_");
  const certFile = join(dir, `${base}.pem`);
  const keyFile = join(dir, `${base}.key`);
  for (const f of [certFile, keyFile]) if (existsSync(f)) throw new CaError("conflict", `${f} exists: move it away first`);
  const enrolled = await registerOf(service).enrol("cli", { kind, clientId: id });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(keyFile, pem(enrolled.privateKeyPkcs8, "PRIVATE KEY"), { mode: 0o600, flag: "wx" });
  await chmod(keyFile, 0o600);
  await writeFile(certFile, pem(enrolled.certificate, "CERTIFICATE"), { mode: 0o600, flag: "wx" });
  print(`${nouns[kind]} ${id} registered: certificate serial ${enrolled.record.clientCertSerial}`);
  print(`  certificate ${certFile}`);
  print(`  private key ${keyFile} (mode 600: move it to the ${nouns[kind]} and delete this copy)`);
  return 0;
}
