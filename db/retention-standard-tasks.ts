import type { AuditCheckpointer } from "../ca/audit/audit-checkpoint.js";
import type { AuditVerification } from "../ca/audit/audit-verifier.js";
import { auditLogRetentionTask } from "../ca/records/retention-audit.js";
import { daysBefore, yearsBefore, type RetentionPeriods, type RetentionTask } from "../ca/records/retention.js";
import type { Database } from "./database.js";
import { KnexAuditPurge } from "./retention-audit-log.js";
import { certificatePersonalFieldsTask, tableAgeRetentionTask } from "./retention-tasks.js";

/** Task name, table, what its rows are. */
const relyingPartyLogs = [
  ["relying-party-access-records", "ocsp_access_log", "relying-party access records"],
  ["relying-party-crl-reads", "crl_access_log", "relying-party CRL reads"],
  ["relying-party-provisions", "relying_party_provisions", "relying-party query answers"],
] as const;

/**
 * The retention tasks of docs/domain.md §6 on this database, in the order they run: the audit log (7 years,
 * signed checkpoint at the cut), superseded resident records (resident_history, migration 0011, 5
 * years), relying-party access records (ocsp_access_log, migration 0009, and CRL reads, crl_access_log,
 * 0016; configurable), query answers and withdrawn consents (migration 0029, the same period), and the personal fields of certificates (10 years after expiry). Shared by the
 * API and the CLI.
 */
export function standardRetentionTasks(
  db: Database,
  periods: RetentionPeriods,
  audit: { checkpointer: Pick<AuditCheckpointer, "checkpoint">; verify: () => Promise<AuditVerification> },
): RetentionTask[] {
  return [
    auditLogRetentionTask({ years: periods.auditLogYears, port: new KnexAuditPurge(db), checkpointer: audit.checkpointer, verify: audit.verify }),
    tableAgeRetentionTask(db, {
      name: "superseded-resident-records",
      rule: `resident records superseded more than ${periods.supersededResidentRecordYears} years ago`,
      table: "resident_history",
      timeColumn: "superseded_at",
      cutoff: (now) => yearsBefore(now, periods.supersededResidentRecordYears),
    }),
    // What relying parties asked (OCSP) and read (CRLs): one period for both.
    ...relyingPartyLogs.map(([name, table, what]) =>
      tableAgeRetentionTask(db, {
        name,
        rule: `${what} older than ${periods.relyingPartyAccessDays} days`,
        table,
        timeColumn: "at",
        cutoff: (now) => daysBefore(now, periods.relyingPartyAccessDays),
      }),
    ),
    // A withdrawn consent is kept as long as the answers it allowed (docs/relying-parties.md); an open one always.
    tableAgeRetentionTask(db, {
      name: "withdrawn-consents",
      rule: `consents withdrawn more than ${periods.relyingPartyAccessDays} days ago`,
      table: "consents",
      timeColumn: "withdrawn_at",
      cutoff: (now) => daysBefore(now, periods.relyingPartyAccessDays),
    }),
    certificatePersonalFieldsTask(db, periods.certificatePersonalFieldsYearsAfterExpiry),
  ];
}
