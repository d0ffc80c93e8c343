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

/**
 * The resident's certificate links (table certificate_links, migration 0026; docs/linkage.md): renewal and
 * re-issue successors, card ↔ phone, signing ↔ user-auth, as written in each issuance transaction.
 */
export function certificateLinksDisclosureSource(db: Database): DisclosureSource {
  return {
    name: "certificate-links",
    async collect(residentCode): Promise<DisclosureSection> {
      if (!(await tableExists(db, "certificate_links"))) return { name: "certificate-links", available: false, items: [] };
      const rows = (await db.executor()("certificate_links").where({ resident_code: residentCode }).orderBy([{ column: "created_at" }, { column: "from_serial" }]).limit(MAX_ITEMS)) as Row[];
      const items: DisclosureItem[] = rows.map((r) => ({
        at: dateFromColumn(r.created_at),
        category: `link-${String(r.link)}`,
        serial: String(r.from_serial),
        party: null,
        detail: { link: String(r.link), toSerial: String(r.to_serial) },
      }));
      return { name: "certificate-links", available: true, items };
    },
  };
}

/**
 * The resident's consents to relying parties (table consents, migration 0029; docs/relying-parties.md
 * "Consents"): each grant (party, scope, the user-auth certificate that signed it) and each withdrawal.
 */
export function consentsDisclosureSource(db: Database): DisclosureSource {
  return {
    name: "consents",
    async collect(residentCode): Promise<DisclosureSection> {
      if (!(await tableExists(db, "consents"))) return { name: "consents", available: false, items: [] };
      const rows = (await db.executor()("consents").where({ resident_code: residentCode }).orderBy("id").limit(MAX_ITEMS)) as Row[];
      const items: DisclosureItem[] = [];
      for (const r of rows) {
        const scope = (typeof r.scope === "string" ? (JSON.parse(r.scope) as string[]) : (r.scope as string[])).join(" ");
        items.push({ at: dateFromColumn(r.granted_at), category: "consent-granted", serial: String(r.granted_with), party: String(r.party_id), detail: { scope } });
        const withdrawn = nullableDateFromColumn(r.withdrawn_at);
        if (withdrawn !== null) items.push({ at: withdrawn, category: "consent-withdrawn", serial: r.withdrawn_with === null ? null : String(r.withdrawn_with), party: String(r.party_id), detail: { scope } });
      }
      return { name: "consents", available: true, items };
    },
  };
}

/**
 * Every answer a relying-party query gave about the resident (table relying_party_provisions,
 * migration 0029): which party (and for which service provider), which query, when, the serial asked
 * about and the serials answered.
 */
export function provisionsDisclosureSource(db: Database): DisclosureSource {
  return {
    name: "relying-party-provisions",
    async collect(residentCode): Promise<DisclosureSection> {
      if (!(await tableExists(db, "relying_party_provisions"))) return { name: "relying-party-provisions", available: false, items: [] };
      const rows = (await db.executor()("relying_party_provisions").where({ resident_code: residentCode }).orderBy("at").limit(MAX_ITEMS)) as Row[];
      const items: DisclosureItem[] = rows.map((r) => ({
        at: dateFromColumn(r.at),
        category: "relying-party-provision",
        serial: String(r.asked_serial),
        party: String(r.party_id),
        detail: {
          query: String(r.query),
          onBehalfOf: r.on_behalf_of === null || r.on_behalf_of === undefined ? null : String(r.on_behalf_of),
          answered: (typeof r.answered_serials === "string" ? (JSON.parse(r.answered_serials) as string[]) : (r.answered_serials as string[])).join(" "),
        },
      }));
      return { name: "relying-party-provisions", available: true, items };
    },
  };
}

/** The sections of docs/relying-parties.md "Records" (issue 16 item 4), for api/main.ts. */
export const relyingPartyDisclosureSources = (db: Database): DisclosureSource[] => [consentsDisclosureSource(db), provisionsDisclosureSource(db)];
