import { normalizeFingerprint } from "./certificate-fingerprint.js";
import { CaError } from "../errors.js";
import { defaultOperatingSchedule, isWithinOperatingHours, type HolidayCalendar, type OperatingSchedule } from "./operating-hours.js";
import type { TerminalRecord } from "./operator-ports.js";

/**
 * May this counter terminal work now? It must be enrolled, not revoked, present the very certificate
 * it was enrolled with (a revoked or replaced certificate of the same id still passes TLS: the service
 * CA publishes no CRL), and be inside its operating hours (久御山町 規程 第23条). CaError("forbidden")
 * otherwise, with a detail saying which.
 */
export function assertTerminalMayOperate(
  record: TerminalRecord | undefined,
  presented: { readonly fingerprint: string },
  now: Date,
  holidays: HolidayCalendar,
  defaultSchedule: OperatingSchedule = defaultOperatingSchedule,
): void {
  if (record === undefined) throw new CaError("forbidden", "terminal is not enrolled");
  if (record.status !== "active") throw new CaError("forbidden", "terminal is revoked");
  if (record.clientCertFingerprint !== normalizeFingerprint(presented.fingerprint)) {
    throw new CaError("forbidden", "terminal certificate is not the one enrolled for this terminal");
  }
  if (!isWithinOperatingHours(now, record.operatingHours ?? defaultSchedule, holidays)) {
    throw new CaError("forbidden", "outside operating hours");
  }
}

/**
 * Start-up check (issue 12 §1, docs/design.md invariant 8): every active terminal is enrolled for exactly one
 * municipality, whose residents alone it acts on (ca/access/resident-access.ts). A terminal enrolled before
 * that rule without one would have no scope; the service refuses to start and names the terminals (ids
 * only) so an operator revokes them and enrols them again with their municipality.
 */
export function assertTerminalsHaveMunicipality(terminals: readonly Pick<TerminalRecord, "terminalId" | "municipalityCode" | "status">[]): void {
  const missing = terminals.filter((t) => t.status === "active" && (t.municipalityCode === null || !/^\d{6}$/.test(t.municipalityCode))).map((t) => t.terminalId);
  if (missing.length === 0) return;
  const named = missing.slice(0, 20).join(", ") + (missing.length > 20 ? `, … (${missing.length} in all)` : "");
  throw new CaError(
    "invalid-input",
    `active terminals enrolled without a municipality: ${named}. Revoke each (terminal revoke <id>) and enrol it again with --municipality <code>`,
    { field: "terminals.municipalityCode" },
  );
}
