import { yearsBefore, type RetentionTask } from "../ca/records/retention.js";
import type { Database } from "./database.js";

type Row = Record<string, unknown>;
const BATCH = 5000;
const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** Whether a table exists (sources other parts create; a deployment may not have them). */
export async function tableExists(db: Database, table: string): Promise<boolean> {
  const r = await db.executor().raw("select to_regclass(?) as t", [table]);
  const rows = (r as { rows: Row[] }).rows;
  return rows[0]?.t !== null && rows[0]?.t !== undefined;
}

/**
 * A task that deletes the rows of `table` whose `timeColumn` is before the cutoff, in batches (each its
 * own short transaction: nothing else depends on these rows being removed all at once). Used for
 * superseded resident records (resident_history.superseded_at, 5 years) and relying-party access
 * records (ocsp_access_log.at, configurable). A missing table makes the task `available: false`.
 */
export function tableAgeRetentionTask(
  db: Database,
  spec: { name: string; rule: string; table: string; timeColumn: string; cutoff: (now: Date) => Date },
): RetentionTask {
  if (!IDENT.test(spec.table) || !IDENT.test(spec.timeColumn)) throw new TypeError("table and column must be plain identifiers");
  return {
    name: spec.name,
    rule: spec.rule,
    async plan(now) {
      const cutoff = spec.cutoff(now);
      if (!(await tableExists(db, spec.table))) return { available: false, cutoff, eligible: 0 };
      const row = (await db.executor()(spec.table).where(spec.timeColumn, "<", cutoff).count({ n: "*" }).first()) as Row | undefined;
      return { available: true, cutoff, eligible: Number(row?.n ?? 0) };
    },
    async apply(now) {
      const cutoff = spec.cutoff(now);
      if (!(await tableExists(db, spec.table))) return { purged: 0 };
      let purged = 0;
      for (;;) {
        const n = await db.transaction(async (tx) => {
          const r = await db.executor(tx).raw(
            `delete from ${spec.table} where ctid in (select ctid from ${spec.table} where ${spec.timeColumn} < ? limit ${BATCH})`,
            [cutoff],
          );
          return Number((r as { rowCount?: number; affectedRows?: number }).rowCount ?? (r as { affectedRows?: number }).affectedRows ?? 0);
        });
        purged += n;
        if (n < BATCH) return { purged };
      }
    },
  };
}

/**
 * Personal fields of certificates 10 years after they expired (docs/domain.md §6 retention; the rest of the
 * record — serial, CA, dates, status, reason, municipality — stays for statistics and the CRL/OCSP
 * history). Stripped: the recorded resident fields and answer, the resident code, and for signing
 * certificates the DER and TBS (their subjectAltName carries name, address, date of birth). The stored
 * issuance answer goes too once every certificate of the issuance is stripped.
 */
export function certificatePersonalFieldsTask(db: Database, yearsAfterExpiry: number): RetentionTask {
  const due = (cutoff: Date) => db.executor()("certificates").where("not_after", "<", cutoff).whereNull("personal_data_purged_at");
  return {
    name: "certificate-personal-fields",
    rule: `personal fields of certificates ${yearsAfterExpiry} years after they expired`,
    async plan(now) {
      const cutoff = yearsBefore(now, yearsAfterExpiry);
      const row = (await due(cutoff).count({ n: "*" }).first()) as Row | undefined;
      return { available: true, cutoff, eligible: Number(row?.n ?? 0) };
    },
    async apply(now) {
      const cutoff = yearsBefore(now, yearsAfterExpiry);
      let purged = 0;
      for (;;) {
        const n = await db.transaction(async (tx) => {
          const k = db.executor(tx);
          const rows = (await k.raw(
            `update certificates set
               recorded = jsonb_build_object(
                 'personalDataPurged', true,
                 'municipalityCode', recorded->'municipalityCode',
                 'applicationDate', recorded->'applicationDate',
                 'terminalId', recorded->'terminalId',
                 'operatorId', recorded->'operatorId',
                 'issuanceId', recorded->'issuanceId'),
               resident_code = null,
               der = case when kind = 'sign' then null else der end,
               tbs = case when kind = 'sign' then null else tbs end,
               personal_data_purged_at = ?,
               updated_at = ?
             where serial in (select serial from certificates
                              where not_after < ? and personal_data_purged_at is null
                              order by not_after limit ${BATCH})
             returning issuance_id`,
            [now, now, cutoff],
          )) as { rows: Row[] };
          const issuances = [...new Set(rows.rows.map((r) => r.issuance_id).filter((v): v is string => typeof v === "string"))];
          if (issuances.length > 0) {
            await k("issuances")
              .whereIn("issuance_id", issuances)
              .whereNotNull("response")
              .whereNotExists(k("certificates as c").select(k.raw("1")).whereRaw("c.issuance_id = issuances.issuance_id").whereNull("c.personal_data_purged_at"))
              .update({ response: null });
          }
          return rows.rows.length;
        });
        purged += n;
        if (n < BATCH) return { purged };
      }
    },
  };
}
