import { normalizeFingerprint } from "./certificate-fingerprint.js";
import { CaError } from "./errors.js";
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
