import { parseArgs } from "node:util";
import type { Service } from "../api/main.js";
import { AuditCheckpointer } from "../ca/audit/audit-checkpoint.js";
import { AUDIT_CHECKPOINT_KEY_LABEL, auditCheckpointSigner } from "../ca/audit/audit-checkpoint-key.js";
import { advisoryLock } from "../db/advisory-lock.js";
import { AuditVerifier, type AuditVerification } from "../ca/audit/audit-verifier.js";
import { CaError } from "../ca/errors.js";
import { defaultRetentionPeriods, RetentionService, type RetentionPeriods } from "../ca/records/retention.js";
import { KnexAuditCheckpointStore } from "../db/audit-checkpoint-store.js";
import { KnexAuditLogReader } from "../db/audit-log-reader.js";
import { standardRetentionTasks } from "../db/retention-standard-tasks.js";

/**
 * `audit verify`, `audit checkpoint` and `retention run` (docs/api.md §8). The CLI runs on the CA host as
 * the local operator: its actions are audited with actor "cli". A purge from the CLI needs no second
 * operator (it is root on the CA host); from the API it does (ca/records/retention.ts).
 */

/** What these commands need of the Service (api/main.ts). */
export type AuditCliService = Pick<Service, "db" | "hsm" | "clock"> & {
  readonly stores: Pick<Service["stores"], "audit">;
  /** `hsm.serviceKeyType`: the type of the checkpoint key when it is made (absent: P-256). */
  readonly config?: { readonly hsm: Pick<Service["config"]["hsm"], "serviceKeySpec"> };
};

type Print = (line: string) => void;

/** The checkpointer and verifier over the service's database and HSM key (made on first use). */
export async function auditToolsOf(service: AuditCliService): Promise<{ checkpointer: AuditCheckpointer; verifier: AuditVerifier }> {
  const reader = new KnexAuditLogReader(service.db);
  const store = new KnexAuditCheckpointStore(service.db);
  const checkpointer = new AuditCheckpointer({
    signer: await auditCheckpointSigner(service.hsm, advisoryLock(service.db, `hsm-key:${AUDIT_CHECKPOINT_KEY_LABEL}`), AUDIT_CHECKPOINT_KEY_LABEL, service.config?.hsm.serviceKeySpec),
    keyLabel: AUDIT_CHECKPOINT_KEY_LABEL,
    store,
    audit: service.stores.audit,
    head: () => reader.head(),
    transactions: service.db,
    clock: service.clock,
  });
  const verifier = new AuditVerifier({ log: reader, checkpoints: store, trustedKeys: [checkpointer.publicKey], now: () => service.clock.now(), audit: service.stores.audit });
  return { checkpointer, verifier };
}

/** Prints a verification: one summary line, then each finding. */
export function printVerification(v: AuditVerification, print: Print): void {
  const range = v.entries === 0 ? "no entries" : `${v.entries} entries, seq ${v.firstSeq}–${v.lastSeq}`;
  const anchor = v.anchor.kind === "checkpoint" ? `from the signed checkpoint at ${v.anchor.seq}` : v.anchor.kind === "genesis" ? "from the genesis" : "without an anchor";
  print(`audit log ${v.ok ? "verifies" : "DOES NOT VERIFY"}: ${range}, ${anchor}; head ${v.head.seq}; checkpoints ${v.checkpoints.valid}/${v.checkpoints.checked} valid`);
  for (const f of v.findings) print(`  ${f.problem.padEnd(10)} seq ${String(f.seq).padStart(8)}  ${f.detail}`);
  if (v.findingsTruncated) print("  … more findings not shown");
}

/** `audit verify`: exit 0 when the chain verifies, 1 otherwise. */
export async function auditVerify(service: AuditCliService, args: string[], print: Print = console.log): Promise<number> {
  if (args.length > 0) throw new CaError("invalid-input", "usage: audit verify");
  const { verifier } = await auditToolsOf(service);
  const v = await verifier.verifyAndRecord("cli");
  printVerification(v, print);
  return v.ok ? 0 : 1;
}

/** `audit checkpoint`: signs a checkpoint of the chain head now. */
export async function auditCheckpoint(service: AuditCliService, args: string[], print: Print = console.log): Promise<number> {
  if (args.length > 0) throw new CaError("invalid-input", "usage: audit checkpoint");
  const { checkpointer } = await auditToolsOf(service);
  const cp = await checkpointer.checkpoint("manual", "cli");
  print(cp ? `checkpoint ${cp.id} signed over entry ${cp.seq} (${cp.hash})` : "the audit log is empty: nothing to sign");
  return 0;
}

export const retentionRunUsage = "retention run [--dry-run] [--task <name>]…";

/** `retention run [--dry-run] [--task name]…`: purges what is past its retention period (or only reports it). */
export async function retentionRun(service: AuditCliService, args: string[], print: Print = console.log, periods: RetentionPeriods = defaultRetentionPeriods): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { "dry-run": { type: "boolean" }, task: { type: "string", multiple: true } } });
  if (positionals.length > 0) throw new CaError("invalid-input", `usage: ${retentionRunUsage}`);
  const { checkpointer, verifier } = await auditToolsOf(service);
  const retention = new RetentionService({ tasks: standardRetentionTasks(service.db, periods, { checkpointer, verify: () => verifier.verify() }), audit: service.stores.audit, clock: service.clock });
  const dryRun = values["dry-run"] === true;
  const report = await retention.run("cli", { dryRun, ...(values.task ? { only: values.task } : {}) });
  print(`retention ${dryRun ? "dry run (nothing changed)" : "purge"} at ${report.at}`);
  for (const t of report.tasks) {
    const what = !t.available ? "not present here" : dryRun ? `${t.eligible} due` : `${t.purged ?? 0} purged of ${t.eligible} due`;
    print(`  ${t.name.padEnd(30)} ${what} (before ${t.cutoff}: ${t.rule})`);
  }
  return 0;
}
