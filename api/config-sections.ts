import { CaError } from "../ca/errors.js";
import { parsePhoneSettings, type PhoneSettings } from "../ca/phone/phone-settings.js";
import { defaultRetentionPeriods, parseRetentionPeriods, statusAfterExpiryConflict, type RetentionPeriods } from "../ca/records/retention.js";
import { parseRelyingPartyQueryConfig, type RelyingPartyQueryConfig } from "../ca/relying-parties/query-settings.js";
import { parseStatusAfterExpiry, StatusAfterExpiry, type StatusAfterExpiryPolicy } from "../ca/revocation/status-after-expiry.js";
import { parseCrlSettings, type CrlSettings } from "../crl/crl-settings.js";
import { ConfigError } from "./config-error.js";

/**
 * The config sections whose rules live with their feature (docs/design.md invariant 8: checked once at
 * start-up): each feature's parser, its refusal turned into a ConfigError that names the field.
 */
function section<T>(name: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw new ConfigError(`config field ${(e as { field?: string }).field ?? name}: ${(e as Error).message}`);
  }
}

export const phoneSettingsOf = (raw: unknown): PhoneSettings => section("phone", () => parsePhoneSettings(raw));
export const crlSettingsOf = (raw: unknown): CrlSettings => section("crl", () => parseCrlSettings(raw ?? {}));
export const statusAfterExpiryOf = (raw: unknown): StatusAfterExpiryPolicy => section("revocationInfo", () => parseStatusAfterExpiry(raw ?? {}));
export const relyingPartyQueriesOf = (raw: unknown): RelyingPartyQueryConfig => section("relyingPartyQueries", () => parseRelyingPartyQueryConfig(raw));

/** `retention`: known periods only; refused when personal fields would go before the status after expiry ends. */
export function retentionOf(raw: unknown, revocationInfo: StatusAfterExpiryPolicy): RetentionPeriods {
  const periods = section("retention", () => {
    if (raw !== undefined && (typeof raw !== "object" || raw === null || Array.isArray(raw))) throw new CaError("invalid-input", "must be an object", { field: "retention" });
    const known = new Set(Object.keys(defaultRetentionPeriods));
    const unknown = Object.keys(raw ?? {}).find((k) => !known.has(k));
    if (unknown !== undefined) throw new CaError("invalid-input", `is not a retention period (one of ${[...known].join(", ")})`, { field: `retention.${unknown}` });
    return parseRetentionPeriods((raw ?? {}) as Partial<Record<keyof RetentionPeriods, unknown>>);
  });
  const conflict = statusAfterExpiryConflict(periods, new StatusAfterExpiry(revocationInfo).longestDays());
  if (conflict !== undefined) throw new ConfigError(`config field retention.certificatePersonalFieldsYearsAfterExpiry: ${conflict}`);
  return periods;
}
