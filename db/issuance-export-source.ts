import type { IssuanceExportFilter, IssuanceExportRow, IssuanceExportSource } from "../ca/approvals/approval-export.js";
import { dateFromColumn, nullableDateFromColumn } from "./column-values.js";
import type { Database } from "./database.js";

type Row = Record<string, unknown>;
const PAGE = 1000;

/**
 * Issuance records for the approved bulk export (ca/approvals/approval-export.ts): keyset pages over
 * (created_at, issuance_id) (index of migration 0013), each page with its certificates, so memory stays
 * flat however large the export and no transaction or cursor is held between pages (PGlite has one
 * connection; the HTTP client may read slowly).
 */
export class KnexIssuanceExportSource implements IssuanceExportSource {
  constructor(private readonly db: Database) {}

  async count(f: IssuanceExportFilter): Promise<number> {
    const row = (await this.base(f).count({ n: "*" }).first()) as Row | undefined;
    return Number(row?.n ?? 0);
  }

  async *rows(f: IssuanceExportFilter): AsyncGenerator<IssuanceExportRow> {
    let after: { at: Date; id: string } | undefined;
    for (;;) {
      const q = this.base(f);
      if (after) {
        const a = after;
        // void: knex changes the builder in place and ignores the callbacks' values (thenables, not queries to await).
        q.andWhere((w) => void w.where("created_at", ">", a.at).orWhere((x) => void x.where("created_at", "=", a.at).andWhere("issuance_id", ">", a.id)));
      }
      const page = (await q.orderBy([{ column: "created_at" }, { column: "issuance_id" }]).limit(PAGE)) as Row[];
      if (page.length === 0) return;
      const ids = page.map((r) => String(r.issuance_id));
      const certs = (await this.db.executor()("certificates").whereIn("issuance_id", ids).orderBy("serial").select("issuance_id", "serial", "kind", "ca_id", "status")) as Row[];
      const byIssuance = new Map<string, IssuanceExportRow["certificates"][number][]>();
      for (const c of certs) {
        const list = byIssuance.get(String(c.issuance_id)) ?? [];
        list.push({ serial: String(c.serial), kind: String(c.kind), caId: String(c.ca_id), status: String(c.status) });
        byIssuance.set(String(c.issuance_id), list);
      }
      for (const r of page) {
        yield {
          issuanceId: String(r.issuance_id),
          createdAt: dateFromColumn(r.created_at),
          completedAt: nullableDateFromColumn(r.completed_at),
          status: String(r.status),
          terminalId: String(r.terminal_id),
          operatorId: String(r.operator_id),
          municipalityCode: String(r.municipality_code),
          applicationDate: String(r.application_date),
          residentCode: String(r.resident_code),
          certificates: byIssuance.get(String(r.issuance_id)) ?? [],
        };
      }
      const last = page[page.length - 1]!;
      after = { at: dateFromColumn(last.created_at), id: String(last.issuance_id) };
      if (page.length < PAGE) return;
    }
  }

  private base(f: IssuanceExportFilter) {
    const q = this.db.executor()("issuances").where("created_at", ">=", f.fromInclusive).andWhere("created_at", "<", f.toExclusive);
    if (f.municipalityCode !== null) q.andWhere({ municipality_code: f.municipalityCode });
    return q;
  }
}
