import { CaError } from "../errors.js";
import { defaultQueryLimits, type QueryLimitSettings } from "./query-limit.js";
import type { QuerySettings } from "./relying-party-queries.js";
import { parseQueryRules, relyingPartyEnvironments, type RelyingPartyEnvironment } from "./verifier-types.js";

/**
 * Configuration `relyingPartyQueries` (docs/relying-parties.md "Configuration"), every [U] of the
 * queries in one place:
 *
 * ```json
 * "relyingPartyQueries": {
 *   "environment": "production",          // which parties this service answers: test | production
 *   "requireKnownSerial": true,           // refuse serials the party never checked nor was given
 *   "limit": { "windowSeconds": 60, "perParty": 60 },
 *   "rules": { "sign-auth-pair": { "requires": ["signing", "user-auth"], "consent": false } }
 * }
 * ```
 */
export interface RelyingPartyQueryConfig extends QuerySettings {
  readonly limit: QueryLimitSettings;
}

const fail = (field: string, message: string): never => {
  throw new CaError("invalid-input", message, { field: `relyingPartyQueries.${field}` });
};

/** Parses the raw section (absent: every default). Throws CaError naming the setting. */
export function parseRelyingPartyQueryConfig(raw: unknown): RelyingPartyQueryConfig {
  const o = raw === undefined || raw === null ? {} : raw;
  if (typeof o !== "object" || Array.isArray(o)) return fail("(section)", "must be an object");
  const r = o as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!["environment", "requireKnownSerial", "limit", "rules"].includes(k)) fail(k, "unknown setting");
  const environment = r.environment ?? "production";
  if (typeof environment !== "string" || !(relyingPartyEnvironments as readonly string[]).includes(environment)) fail("environment", "must be test or production");
  const requireKnownSerial = r.requireKnownSerial ?? true;
  if (typeof requireKnownSerial !== "boolean") fail("requireKnownSerial", "must be true or false");
  const limit = (r.limit ?? {}) as Record<string, unknown>;
  const windowSeconds = limit.windowSeconds ?? defaultQueryLimits.windowMs / 1000;
  const perParty = limit.perParty ?? defaultQueryLimits.perParty;
  if (!Number.isInteger(windowSeconds) || (windowSeconds as number) < 1 || (windowSeconds as number) > 3600) fail("limit.windowSeconds", "must be an integer 1–3600");
  if (!Number.isInteger(perParty) || (perParty as number) < 1 || (perParty as number) > 1_000_000) fail("limit.perParty", "must be an integer 1–1000000");
  if (r.rules !== undefined && (typeof r.rules !== "object" || r.rules === null)) fail("rules", "must be an object");
  const rules = parseQueryRules(r.rules as Parameters<typeof parseQueryRules>[0]);
  return Object.freeze({
    environment: environment as RelyingPartyEnvironment,
    requireKnownSerial: requireKnownSerial as boolean,
    rules,
    limit: Object.freeze({ windowMs: (windowSeconds as number) * 1000, perParty: perParty as number }),
  });
}
