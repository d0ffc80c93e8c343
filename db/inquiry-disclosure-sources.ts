import type { DisclosureItem, DisclosureSection, DisclosureSource } from "../ca/records/disclosure.js";
import { dateFromColumn, nullableDateFromColumn } from "./column-values.js";
import type { Database } from "./database.js";
import { tableExists } from "./retention-tasks.js";

type Row = Record<string, unknown>;
/** Bound per section: a disclosure is about one resident; millions of rows would mean a bug. */
const MAX_ITEMS = 10_000;

/**
 * Change events that touched the resident (table resident_events, migration 0011): what the register
 * sent, when, and what the CA did (revocations). Unavailable where that table does not exist.
 */
export function residentEventsDisclosureSource(db: Database): DisclosureSource {
  return {
    name: "resident-events",
    async collect(residentCode): Promise<DisclosureSection> {
      if (!(await tableExists(db, "resident_events"))) return { name: "resident-events", available: false, items: [] };
      const rows = (await db.executor()("resident_events").where({ resident_code: residentCode }).orderBy("seq").limit(MAX_ITEMS)) as Row[];
      const items: DisclosureItem[] = rows.map((r) => ({
        at: nullableDateFromColumn(r.processed_at) ?? dateFromColumn(r.received_at),
        category: "resident-event",
        serial: null,
        party: r.source === null || r.source === undefined ? String(r.transport ?? "") || null : String(r.source),
        detail: {
          eventId: r.event_id === null || r.event_id === undefined ? null : String(r.event_id),
          type: r.type === null || r.type === undefined ? null : String(r.type),
          effectiveDate: r.effective_date === null || r.effective_date === undefined ? null : String(r.effective_date),
          outcome: String(r.outcome),
          revokedCount: Number(r.revoked_count ?? 0),
        },
      }));
      return { name: "resident-events", available: true, items };
    },
  };
}

/**
 * Which registered relying parties asked about the resident's certificates, and when (table
 * ocsp_access_log, migration 0009; docs/api.md §3: every answered request is recorded). Unavailable
 * where that table does not exist (access mode `public` records nothing).
 */
export function relyingPartyAccessDisclosureSource(db: Database, table = "ocsp_access_log"): DisclosureSource {
  return {
    name: "relying-party-access",
    async collect(_residentCode, serials): Promise<DisclosureSection> {
      if (!(await tableExists(db, table))) return { name: "relying-party-access", available: false, items: [] };
      if (serials.length === 0) return { name: "relying-party-access", available: true, items: [] };
      const rows = (await db.executor()(table).whereIn("serial", [...serials]).orderBy("at").limit(MAX_ITEMS)) as Row[];
      const items: DisclosureItem[] = rows.map((r) => ({
        at: dateFromColumn(r.at),
        category: "relying-party-access",
        serial: r.serial === null || r.serial === undefined ? null : String(r.serial),
        party: String(r.party),
        detail: { channel: "ocsp", answer: r.answer === null || r.answer === undefined ? null : String(r.answer) },
      }));
      return { name: "relying-party-access", available: true, items };
    },
  };
}
