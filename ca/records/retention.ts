/**
 * @packageDocumentation
 * ca/records: what is kept about residents and operations, who may look it up, and for how long.
 *
 * - retention.ts (this file): retention periods and the purges.
 * - retention-audit.ts: purging the audit log while keeping the rest verifiable.
 * - inquiry.ts: limited certificate inquiries (one certificate or one resident at a time).
 * - disclosure.ts: the disclosure report for one resident.
 * - anomaly.ts: anomaly alerts read from the audit log.
 * - csv.ts: CSV output of reports (RFC 4180, formula-safe).
 */
import { CaError } from "../errors.js";
import type { ApprovalExecutor } from "../approvals/approval.js";
import { actorName, type Actor } from "../operators/operator-principal.js";
import type { Clock } from "../ports.js";
import type { AuditStore } from "../stores.js";

/**
 * Retention periods and purges (docs/domain.md §3, §6):
 * - the operation history (audit log): 7 years (久御山町 規程 第20条), purged so that the rest stays
 *   verifiable (ca/records/retention-audit.ts: a signed checkpoint at the cut);
 * - superseded resident records (機構保存本人確認情報 that a change replaced): 5 years;
 * - relying-party access records (who asked about which certificate): configurable;
 * - personal fields of certificates: 10 years after the certificate expired.
 *
 * Never purged: what revocation status is read from — a certificate row's serial, CA, partition,
 * notAfter, status, revocation time, reason and invalidity date. OCSP and the CRLs give status after
 * expiry from these until the status cutoff (ca/revocation/status-after-expiry.ts: by default to the end
 * of the third month after the month of expiry, docs/domain.md §4); the personal-fields purge, whose
 * shortest period (1 year) is longer than that default, strips other columns only
 * (test/integration/crl/retention-status-after-expiry.test.ts). `statusAfterExpiryConflict` checks a
 * configured pair.
 *
 * Each kind of data is a RetentionTask; tasks whose table does not exist in a deployment report
 * `available: false`. A dry run counts what a purge would remove and changes nothing (it is audited,
 * like every operation).
 */
export interface RetentionPeriods {
  readonly auditLogYears: number;
  readonly supersededResidentRecordYears: number;
  readonly relyingPartyAccessDays: number;
  readonly certificatePersonalFieldsYearsAfterExpiry: number;
}

export const defaultRetentionPeriods: RetentionPeriods = Object.freeze({
  auditLogYears: 7,
  supersededResidentRecordYears: 5,
  // Kept as long as the operation history by default: disclosure requests (告示334号 第6-8(5)) ask
  // which relying parties asked about a resident.
  relyingPartyAccessDays: 7 * 366,
  certificatePersonalFieldsYearsAfterExpiry: 10,
});

/** Validates periods (configuration): whole numbers, at least 1. CaError naming the field. */
export function parseRetentionPeriods(input: Partial<Record<keyof RetentionPeriods, unknown>> = {}): RetentionPeriods {
  const out: Record<string, number> = { ...defaultRetentionPeriods };
  for (const [k, v] of Object.entries(input)) {
    if (!(k in defaultRetentionPeriods)) throw new CaError("invalid-input", `unknown retention setting ${k}`, { field: `retention.${k}` });
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 100 * 366) throw new CaError("invalid-input", `retention.${k} must be a positive whole number`, { field: `retention.${k}` });
    out[k] = v;
  }
  return Object.freeze(out) as unknown as RetentionPeriods;
}

/**
 * Whether the personal-fields retention would end before the status after expiry of some kind does
 * (`longestStatusDays`: StatusAfterExpiry.longestDays). Harmless for status — the purge keeps the status
 * columns — but the disclosure of who was answered about a certificate (docs/api.md §3) would then
 * outlive the certificate's own record: a configuration to refuse. Returns the message, or undefined.
 */
export function statusAfterExpiryConflict(periods: RetentionPeriods, longestStatusDays: number): string | undefined {
  const keptDays = periods.certificatePersonalFieldsYearsAfterExpiry * 365;
  return keptDays >= longestStatusDays
    ? undefined
    : `retention.certificatePersonalFieldsYearsAfterExpiry (${periods.certificatePersonalFieldsYearsAfterExpiry} years) ends before the status after expiry (up to ${longestStatusDays} days, revocationInfo)`;
}

/** `now` minus whole years (UTC calendar; Feb 29 falls back to Feb 28/Mar 1 as Date does). */
export function yearsBefore(now: Date, years: number): Date {
  const d = new Date(now.getTime());
  d.setUTCFullYear(d.getUTCFullYear() - years);
  return d;
}

export const daysBefore = (now: Date, days: number): Date => new Date(now.getTime() - days * 86_400_000);

export interface RetentionPlan {
  /** False when the data source does not exist here (e.g. no access-record table). */
  readonly available: boolean;
  /** Records older than this are due. */
  readonly cutoff: Date;
  /** How many records a purge would remove (or strip). */
  readonly eligible: number;
}

export interface RetentionOutcome {
  readonly purged: number;
  /** Task-specific facts for the audit log (no personal data), e.g. the checkpoint id of a cut. */
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface RetentionTask {
  readonly name: string;
  /** The rule in words, e.g. "superseded resident records, 5 years after they were superseded". */
  readonly rule: string;
  plan(now: Date): Promise<RetentionPlan>;
  /** Removes what `plan` counted (as of `now`). */
  apply(now: Date): Promise<RetentionOutcome>;
}

export interface RetentionTaskReport {
  readonly name: string;
  readonly rule: string;
  readonly available: boolean;
  readonly cutoff: string;
  readonly eligible: number;
  /** null in a dry run. */
  readonly purged: number | null;
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface RetentionReport {
  readonly dryRun: boolean;
  readonly at: string;
  readonly tasks: readonly RetentionTaskReport[];
}

/** Runs the retention tasks, for real or as a dry run; audits each run. */
export class RetentionService {
  constructor(private readonly deps: { tasks: readonly RetentionTask[]; audit: Pick<AuditStore, "append">; clock: Clock }) {}

  /** Names of the tasks. */
  taskNames(): string[] {
    return this.deps.tasks.map((t) => t.name);
  }

  /**
   * Dry run (anyone the route lets in): plans only, changes no data. A real purge from an operator goes
   * through four-eyes approval (`retentionPurgeExecutor`); only the local CLI (root on the CA host)
   * purges directly. `only` restricts the run to some task names.
   */
  async run(actor: Actor, options: { dryRun: boolean; only?: readonly string[] }): Promise<RetentionReport> {
    if (!options.dryRun && actor !== "cli") throw new CaError("forbidden", "an operator's purge needs the approval of a second operator: request it with POST /v1/admin/retention/purges");
    return this.execute(actorName(actor), options);
  }

  /** The purge an approval executes (roles were checked by the approval engine). */
  async runApproved(approvalId: string, approvedBy: string, only?: readonly string[]): Promise<RetentionReport> {
    return this.execute(`operator:${approvedBy}`, { dryRun: false, ...(only ? { only } : {}), approvalId });
  }

  private async execute(actor: string, options: { dryRun: boolean; only?: readonly string[]; approvalId?: string }): Promise<RetentionReport> {
    const unknown = (options.only ?? []).filter((n) => !this.taskNames().includes(n));
    if (unknown.length > 0) throw new CaError("invalid-input", `unknown retention task ${unknown.join(", ")} (known: ${this.taskNames().join(", ")})`, { field: "tasks" });
    const tasks = this.deps.tasks.filter((t) => options.only === undefined || options.only.includes(t.name));
    const now = this.deps.clock.now();
    const reports: RetentionTaskReport[] = [];
    for (const task of tasks) {
      const plan = await task.plan(now);
      const base = { name: task.name, rule: task.rule, available: plan.available, cutoff: plan.cutoff.toISOString(), eligible: plan.eligible };
      if (options.dryRun || !plan.available || plan.eligible === 0) {
        reports.push({ ...base, purged: options.dryRun ? null : 0 });
        continue;
      }
      const outcome = await task.apply(now);
      reports.push({ ...base, purged: outcome.purged, ...(outcome.detail ? { detail: outcome.detail } : {}) });
    }
    await this.deps.audit.append({
      at: this.deps.clock.now(),
      action: options.dryRun ? "retention.dry-run" : "retention.purged",
      actor,
      subject: options.approvalId ? `approval:${options.approvalId}` : null,
      outcome: "success",
      detail: { tasks: reports.map((r) => ({ name: r.name, cutoff: r.cutoff, eligible: r.eligible, purged: r.purged, available: r.available, ...(r.detail ? { detail: r.detail } : {}) })) },
    });
    return { dryRun: options.dryRun, at: now.toISOString(), tasks: reports };
  }
}

export const RETENTION_PURGE = "retention-purge";

/**
 * Four-eyes purge: the CA administrator asks, the security officer (or another CA administrator)
 * approves, then the purge runs. Parameters: optional `tasks` (names) and a mandatory `purpose`.
 */
export function retentionPurgeExecutor(service: RetentionService): ApprovalExecutor<{ tasks: string[] | null; purpose: string }> {
  return {
    kind: RETENTION_PURGE,
    description: "purge of records past their retention period (audit log with a signed checkpoint at the cut, resident records, access records, personal fields)",
    requestRoles: ["ca-admin"],
    approveRoles: ["security-officer", "ca-admin"],
    parse(input) {
      const v = (input ?? {}) as Record<string, unknown>;
      if (typeof input !== "object" || input === null || Array.isArray(input)) throw new CaError("invalid-input", "body must be an object");
      for (const k of Object.keys(v)) if (k !== "tasks" && k !== "purpose") throw new CaError("invalid-input", `unknown field ${k}`, { field: k });
      const tasks = v.tasks ?? null;
      if (tasks !== null && (!Array.isArray(tasks) || tasks.some((t) => typeof t !== "string" || !service.taskNames().includes(t)))) {
        throw new CaError("invalid-input", `tasks must be a list of: ${service.taskNames().join(", ")}`, { field: "tasks" });
      }
      const purpose = typeof v.purpose === "string" ? v.purpose.trim() : "";
      if (purpose.length < 4 || purpose.length > 200) throw new CaError("invalid-input", "purpose is required: 4–200 characters", { field: "purpose" });
      return { tasks: tasks as string[] | null, purpose };
    },
    async execute(approval) {
      const report = await service.runApproved(approval.id, approval.decidedBy ?? "unknown", approval.params.tasks ?? undefined);
      return { tasks: report.tasks.map((t) => ({ name: t.name, eligible: t.eligible, purged: t.purged })) };
    },
  };
}
