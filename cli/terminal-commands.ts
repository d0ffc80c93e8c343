import { existsSync } from "node:fs";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { CaError } from "../ca/errors.js";
import { TerminalRegistry, type ServiceCaMaterial } from "../ca/operators/terminal-registry.js";
import { pem } from "../ca/x509/pem.js";
import type { Service } from "../api/main.js";
import { KnexOperatorSessionStore } from "../db/operator-session-store.js";
import { KnexTerminalStore } from "../db/terminal-store.js";

/**
 * `terminal enrol` and `terminal revoke` (docs/api.md §8). The CLI acts as the local CA operator; every
 * action is audited with actor "cli".
 */

/** What these commands need of the Service (api/main.ts); `serviceCa` is the service CA's key and certificate. */
export type TerminalCliService = Pick<Service, "db" | "clock" | "random"> & {
  readonly config: Pick<Service["config"], "varDir">;
  readonly stores: Pick<Service["stores"], "audit">;
  readonly serviceCa: ServiceCaMaterial;
};

type Print = (line: string) => void;

function registryOf(service: TerminalCliService): TerminalRegistry {
  return new TerminalRegistry({
    terminals: new KnexTerminalStore(service.db),
    sessions: new KnexOperatorSessionStore(service.db),
    audit: service.stores.audit,
    transactions: service.db,
    clock: service.clock,
    random: service.random,
    serviceCa: service.serviceCa,
  });
}

export const terminalEnrolUsage = "terminal enrol <id> --municipality <code> [--out <dir>]";

/**
 * `terminal enrol <id> --municipality 131041 [--out dir]`: makes an EC P-256 key, issues a client
 * certificate (OU=terminal) from the service CA, records the terminal and writes `<dir>/<id>.pem`
 * (certificate) and `<dir>/<id>.key` (PKCS#8, mode 600). Default dir: `<varDir>/terminals`.
 * Refuses to overwrite existing files. The municipality is required: a terminal serves exactly one
 * (issue 12 §1). Returns the exit code.
 */
export async function terminalEnrol(service: TerminalCliService, args: string[], print: Print = console.log): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { municipality: { type: "string" }, out: { type: "string" } } });
  const [terminalId, ...extra] = positionals;
  if (terminalId === undefined || extra.length > 0) throw new CaError("invalid-input", `usage: ${terminalEnrolUsage}`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(terminalId)) throw new CaError("invalid-input", "terminal id must be 1–64 of [A-Za-z0-9._:-]", { field: "id" });
  if (values.municipality === undefined) throw new CaError("invalid-input", `--municipality is required: ${terminalEnrolUsage}`, { field: "municipality" });
  const dir = resolve(values.out ?? join(service.config.varDir, "terminals"));
  // ':' is allowed in ids but not in every file system's names.
  const base = terminalId.replace(/:/g, "_");
  const certFile = join(dir, `${base}.pem`);
  const keyFile = join(dir, `${base}.key`);
  for (const f of [certFile, keyFile]) if (existsSync(f)) throw new CaError("conflict", `${f} exists: move it away first`);
  const enrolled = await registryOf(service).enrol("cli", {
    terminalId,
    municipalityCode: values.municipality,
  });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(keyFile, pem(enrolled.privateKeyPkcs8, "PRIVATE KEY"), { mode: 0o600, flag: "wx" });
  await chmod(keyFile, 0o600); // the umask may have narrowed but never widens; be explicit
  await writeFile(certFile, pem(enrolled.certificate, "CERTIFICATE"), { mode: 0o600, flag: "wx" });
  print(`terminal ${terminalId} enrolled: certificate serial ${enrolled.record.clientCertSerial}`);
  print(`  certificate ${certFile}`);
  print(`  private key ${keyFile} (mode 600: move it to the terminal and delete this copy)`);
  return 0;
}

/** `terminal revoke <id>`: the terminal's certificate is refused from now on and its sessions end. Returns the exit code. */
export async function terminalRevoke(service: TerminalCliService, args: string[], print: Print = console.log): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const [terminalId, ...extra] = positionals;
  if (terminalId === undefined || extra.length > 0) throw new CaError("invalid-input", "usage: terminal revoke <id>");
  await registryOf(service).revoke("cli", terminalId);
  print(`terminal ${terminalId} revoked; its sessions are ended`);
  return 0;
}
