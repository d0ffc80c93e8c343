import { csvLine } from "./csv.js";
import { CaError } from "../errors.js";
import { actorName, type Actor } from "../operators/operator-principal.js";
import type { Clock } from "../ports.js";
import type { AuditStore } from "../stores.js";
import type { CertificateRecord } from "../types.js";

/**
 * The disclosure report (告示334号 第6-8(5): each resident may ask what was provided about them and to
 * whom; docs/api.md §7 `GET /v1/admin/disclosures/{residentCode}`): the certificates issued and revoked
 * for one resident, the change events that touched them, which relying parties asked about their
 * certificates and when, the resident's consents to relying parties and every answer a relying-party
 * query gave about them (docs/relying-parties.md "Records"). Sources are pluggable: a deployment without an access-record table reports
 * that section as unavailable instead of failing.
 */
export interface DisclosureItem {
  readonly at: Date;
  /** e.g. "certificate-issued", "certificate-revoked", "resident-event", "relying-party-access", "consent-granted", "consent-withdrawn", "relying-party-provision". */
  readonly category: string;
  readonly serial: string | null;
  /** A relying party's id, or the event source. */
  readonly party: string | null;
  /** Short facts (event type, revocation reason, access channel …). */
  readonly detail: Readonly<Record<string, string | number | boolean | null>>;
}

export interface DisclosureSection {
  readonly name: string;
  readonly available: boolean;
  readonly items: readonly DisclosureItem[];
}

/** One kind of record about a resident (db/inquiry-disclosure-sources.ts has table-backed ones). */
export interface DisclosureSource {
  readonly name: string;
  /** Items about the resident, given their code and every serial ever issued to them. */
  collect(residentCode: string, serials: readonly string[]): Promise<DisclosureSection>;
}

export interface DisclosureReport {
  readonly residentCode: string;
  readonly generatedAt: string;
  readonly certificates: ReadonlyArray<{
    readonly serialNumber: string;
    readonly caId: string;
    readonly kind: string;
    readonly device: string;
    readonly status: string;
    readonly issuedAt: string;
    readonly notBefore: string;
    readonly notAfter: string;
    readonly revokedAt: string | null;
    readonly revocationReason: string | null;
  }>;
  readonly sections: readonly DisclosureSection[];
}

/** At most this many certificates per resident: decades of renewals fit well below it. */
export const MAX_DISCLOSED_CERTIFICATES = 1000;

export interface DisclosureDeps {
  readonly certificates: { byResidentCode(residentCode: string, limit: number): Promise<CertificateRecord[]> };
  readonly sources: readonly DisclosureSource[];
  readonly audit: Pick<AuditStore, "append">;
  readonly clock: Clock;
}

export class DisclosureService {
  constructor(private readonly deps: DisclosureDeps) {}

  /** Builds the report and audits that it was produced (who, when, for whom, how many items). */
  async report(actor: Actor, residentCode: string): Promise<DisclosureReport> {
    if (!/^[0-9]{11}$/.test(residentCode)) throw new CaError("invalid-input", "residentCode must be exactly 11 digits", { field: "residentCode" });
    const certs = await this.deps.certificates.byResidentCode(residentCode, MAX_DISCLOSED_CERTIFICATES);
    const serials = certs.map((c) => c.serial);
    const lifecycle: DisclosureItem[] = [];
    for (const c of certs) {
      lifecycle.push({ at: c.createdAt, category: "certificate-issued", serial: c.serial, party: null, detail: { kind: c.kind, device: c.device, caId: c.caId } });
      if (c.revokedAt !== null) {
        lifecycle.push({ at: c.revokedAt, category: c.status === "hold" ? "certificate-held" : "certificate-revoked", serial: c.serial, party: null, detail: { reason: c.revocationReason } });
      }
    }
    const sections: DisclosureSection[] = [{ name: "certificates", available: true, items: byTime(lifecycle) }];
    for (const source of this.deps.sources) {
      const s = await source.collect(residentCode, serials);
      sections.push({ name: s.name, available: s.available, items: byTime(s.items) });
    }
    const now = this.deps.clock.now();
    await this.deps.audit.append({
      at: now,
      action: "disclosure.report",
      actor: actorName(actor),
      subject: `resident:${residentCode}`,
      outcome: "success",
      detail: { residentCode, certificates: certs.length, sections: Object.fromEntries(sections.map((s) => [s.name, s.available ? s.items.length : null])) },
    });
    return {
      residentCode,
      generatedAt: now.toISOString(),
      certificates: certs.map((c) => ({
        serialNumber: c.serial,
        caId: c.caId,
        kind: c.kind,
        device: c.device,
        status: c.status,
        issuedAt: c.createdAt.toISOString(),
        notBefore: c.notBefore.toISOString(),
        notAfter: c.notAfter.toISOString(),
        revokedAt: c.revokedAt?.toISOString() ?? null,
        revocationReason: c.revocationReason,
      })),
      sections,
    };
  }
}

export const disclosureCsvHeader = ["section", "at", "category", "serial", "party", "detail"] as const;

/** The report as CSV: one line per item of every section; unavailable sections get one line saying so. */
export function disclosureCsv(report: DisclosureReport): string {
  let out = csvLine(disclosureCsvHeader);
  for (const s of report.sections) {
    if (!s.available) {
      out += csvLine([s.name, null, "source-unavailable", null, null, null]);
      continue;
    }
    for (const i of s.items) {
      const detail = Object.entries(i.detail).map(([k, v]) => `${k}=${v === null ? "" : String(v)}`).join(";");
      out += csvLine([s.name, i.at, i.category, i.serial, i.party, detail]);
    }
  }
  return out;
}

const byTime = (items: readonly DisclosureItem[]): DisclosureItem[] => [...items].sort((a, b) => a.at.getTime() - b.at.getTime());
