import type { ApprovalEngine } from "./approval-engine.js";
import type { ApprovalExecutor } from "./approval.js";
import { addDays, compareDates, formatIsoDate, instantAtUtc, JST_OFFSET_MS, parseIsoDate, type CalendarDate } from "../calendar-date.js";
import { csvLine } from "../records/csv.js";
import { CaError } from "../errors.js";
import { actorName, type Actor } from "../operators/operator-principal.js";
import type { Clock } from "../ports.js";
import type { AuditStore } from "../stores.js";

/**
 * Bulk export of issuance records (告示334号 第4-8(2): bulk output only with the prior approval of the
 * responsible person). A CA operator asks (`POST /v1/admin/exports`), another operator approves, then
 * the requester downloads the file once (`GET /v1/admin/exports/{id}`), streamed as CSV or JSON Lines.
 */
export const ISSUANCE_EXPORT = "issuance-export";

/** Longest period one export may cover: a year of issuance records. */
export const MAX_EXPORT_DAYS = 366;
/** How long an approved export can be downloaded. */
export const EXPORT_AVAILABLE_MS = 24 * 60 * 60 * 1000;

export type ExportFormat = "csv" | "jsonl";

export interface IssuanceExportParams extends Record<string, unknown> {
  /** First JST day, `YYYY-MM-DD`, inclusive. */
  readonly from: string;
  /** Last JST day, inclusive. */
  readonly to: string;
  readonly municipalityCode: string | null;
  readonly format: ExportFormat;
  /** Why the output is needed: mandatory, recorded in the audit log. */
  readonly purpose: string;
}

export interface IssuanceExportFilter {
  readonly fromInclusive: Date;
  readonly toExclusive: Date;
  readonly municipalityCode: string | null;
}

export interface IssuanceExportRow {
  readonly issuanceId: string;
  readonly createdAt: Date;
  readonly completedAt: Date | null;
  readonly status: string;
  readonly terminalId: string;
  readonly operatorId: string;
  readonly municipalityCode: string;
  readonly applicationDate: string;
  readonly residentCode: string;
  readonly certificates: ReadonlyArray<{ readonly serial: string; readonly kind: string; readonly caId: string; readonly status: string }>;
}

/** Where the rows come from (db/issuance-export-source.ts): keyset pages, never one huge result. */
export interface IssuanceExportSource {
  count(filter: IssuanceExportFilter): Promise<number>;
  rows(filter: IssuanceExportFilter): AsyncIterable<IssuanceExportRow>;
}

const KEYS = new Set(["from", "to", "municipalityCode", "format", "purpose"]);

/** Validates export parameters. CaError("invalid-input") naming the field. */
export function parseExportParams(input: unknown): IssuanceExportParams {
  if (input === null || typeof input !== "object" || Array.isArray(input)) throw new CaError("invalid-input", "body must be an object");
  const v = input as Record<string, unknown>;
  for (const k of Object.keys(v)) if (!KEYS.has(k)) throw new CaError("invalid-input", `unknown field ${k}`, { field: k });
  const day = (field: "from" | "to"): CalendarDate => {
    const d = typeof v[field] === "string" ? parseIsoDate(v[field] as string) : undefined;
    if (d === undefined) throw new CaError("invalid-input", `${field} must be an ISO date YYYY-MM-DD`, { field });
    return d;
  };
  const from = day("from");
  const to = day("to");
  if (compareDates(from, to) > 0) throw new CaError("invalid-input", "to must not be before from", { field: "to" });
  if (compareDates(addDays(from, MAX_EXPORT_DAYS - 1), to) < 0) throw new CaError("invalid-input", `an export covers at most ${MAX_EXPORT_DAYS} days`, { field: "to" });
  const m = v.municipalityCode ?? null;
  if (m !== null && (typeof m !== "string" || !/^[0-9]{6}$/.test(m))) throw new CaError("invalid-input", "municipalityCode must be 6 digits", { field: "municipalityCode" });
  const format = v.format ?? "csv";
  if (format !== "csv" && format !== "jsonl") throw new CaError("invalid-input", "format must be csv or jsonl", { field: "format" });
  const purpose = typeof v.purpose === "string" ? v.purpose.trim() : "";
  if (purpose.length < 4 || purpose.length > 200) throw new CaError("invalid-input", "purpose is required: 4–200 characters saying why the output is needed", { field: "purpose" });
  return { from: formatIsoDate(from), to: formatIsoDate(to), municipalityCode: m, format, purpose };
}

/** JST days → instants: [from 00:00 JST, day after `to` 00:00 JST). */
export function exportFilter(p: IssuanceExportParams): IssuanceExportFilter {
  const midnightJst = (d: CalendarDate): Date => new Date(instantAtUtc(d, { hours: 0, minutes: 0, seconds: 0 }).getTime() - JST_OFFSET_MS);
  return { fromInclusive: midnightJst(parseIsoDate(p.from)!), toExclusive: midnightJst(addDays(parseIsoDate(p.to)!, 1)), municipalityCode: p.municipalityCode };
}

/** The executor: once approved, counts the rows and opens the download window. */
export function issuanceExportExecutor(deps: { source: Pick<IssuanceExportSource, "count">; clock: Clock }): ApprovalExecutor<IssuanceExportParams> {
  return {
    kind: ISSUANCE_EXPORT,
    description: "bulk export of issuance records (CSV or JSON Lines), downloaded once by the requester",
    requestRoles: ["ca-operator"],
    // The responsible person (another CA operator or the CA administrator) approves bulk output.
    approveRoles: ["ca-operator", "ca-admin"],
    parse: parseExportParams,
    async execute(approval) {
      const rows = await deps.source.count(exportFilter(approval.params));
      return { rows, availableUntil: new Date(deps.clock.now().getTime() + EXPORT_AVAILABLE_MS).toISOString() };
    },
  };
}

export const exportCsvHeader = ["issuanceId", "createdAt", "completedAt", "status", "terminalId", "operatorId", "municipalityCode", "applicationDate", "residentCode", "serials"] as const;

export interface ExportDownload {
  readonly filename: string;
  readonly contentType: string;
  /** The file, line by line; pulling it drives the database reads (back-pressure from the client). */
  readonly body: AsyncIterable<string>;
}

/**
 * The download side: the requester collects an executed export once (ApprovalEngine.consume), within
 * EXPORT_AVAILABLE_MS. Audits the collection and, when the stream ends, the number of rows sent.
 */
export class IssuanceExport {
  constructor(private readonly deps: { engine: ApprovalEngine; source: IssuanceExportSource; audit: Pick<AuditStore, "append">; clock: Clock }) {}

  async download(actor: Actor, id: string): Promise<ExportDownload> {
    const record = await this.deps.engine.get(id);
    if (record.kind !== ISSUANCE_EXPORT) throw new CaError("not-found", "no export request with this id");
    const until = typeof record.result?.availableUntil === "string" ? Date.parse(record.result.availableUntil) : NaN;
    if (record.status === "executed" && !(until >= this.deps.clock.now().getTime())) throw new CaError("conflict", "the download window of this export has closed: ask again");
    await this.deps.engine.consume(actor, id, ISSUANCE_EXPORT);
    const params = parseExportParams(record.params);
    const filter = exportFilter(params);
    const { source, audit, clock } = this.deps;
    const who = actorName(actor);
    async function* lines(): AsyncGenerator<string> {
      let n = 0;
      if (params.format === "csv") yield csvLine(exportCsvHeader);
      for await (const r of source.rows(filter)) {
        n++;
        if (params.format === "csv") {
          yield csvLine([r.issuanceId, r.createdAt, r.completedAt, r.status, r.terminalId, r.operatorId, r.municipalityCode, r.applicationDate, r.residentCode, r.certificates.map((c) => `${c.kind}:${c.serial}`).join(" ")]);
        } else {
          yield `${JSON.stringify({ ...r, createdAt: r.createdAt.toISOString(), completedAt: r.completedAt?.toISOString() ?? null })}\n`;
        }
      }
      await audit.append({ at: clock.now(), action: "export.streamed", actor: who, subject: `approval:${id}`, outcome: "success", detail: { kind: ISSUANCE_EXPORT, rows: n, format: params.format } });
    }
    return {
      filename: `issuances-${params.from}-${params.to}${params.municipalityCode ? `-${params.municipalityCode}` : ""}.${params.format}`,
      contentType: params.format === "csv" ? "text/csv; charset=utf-8" : "application/jsonl; charset=utf-8",
      body: lines(),
    };
  }
}
