import { CaError } from "../errors.js";
import { caKinds, parseCaId, type CaId, type CaKind } from "../types.js";

/**
 * Status after expiry (docs/domain.md §4 "Status after expiry", docs/ocsp.md and docs/crl.md sections
 * of the same name). The health-insurance use accepts an expired user-authentication certificate until
 * the end of the third month after the month it expired [F], so relying parties need its status for that
 * long: OCSP keeps answering (with archiveCutoff, RFC 6960 §4.4.4) and revoked certificates stay on the
 * CRLs (with expiredCertsOnCRL, X.509 (2019) §9.6.2.x) until the **status cutoff** of the certificate.
 *
 * The period is configuration [U] (`revocationInfo` in config/default.json), per certificate kind:
 *
 * | period                          | status is given until (exclusive)                                        |
 * |---------------------------------|--------------------------------------------------------------------------|
 * | `none` (config `0`)             | today's behaviour: no archive cutoff, no expiredCertsOnCRL, CRL look-back only |
 * | `month-end`, months N (default 3) | 00:00 local time of the first day of the (N+1)th month after the month of notAfter, i.e. to the end of the Nth month |
 * | `days`, D                       | notAfter + D days                                                        |
 *
 * "Local time" is a fixed UTC offset, default +09:00: JST (Asia/Tokyo), which has had no daylight
 * saving time since 1951, so a fixed offset is exact (ca/calendar-date.ts). A certificate expiring
 * 2026-01-31T23:59:59+09:00 (14:59:59Z) is answered until 2026-04-30T23:59:59.999+09:00, i.e. up to
 * 2026-04-30T15:00:00Z exclusive; one expiring at 2026-01-31T15:00:00Z (= 2026-02-01 00:00 JST) is in
 * February in JST, so until the end of May.
 *
 * Everything is decided by one test: at instant `t`, status is given for a certificate when
 * `notAfter >= notAfterFloor(t)` (equivalently `t < statusUntil(notAfter)`). The floor only moves
 * forward with `t`, so it is a single `not_after >=` bound for the CRL query and the coverage check, and
 * it is the archive cutoff an OCSP response names (RFC 6960 §4.4.4: producedAt minus the retention
 * interval; with month ends the interval is calendar months, so the floor is computed, not subtracted).
 */
export type AfterExpiryPeriod =
  | { readonly rule: "none" }
  | { readonly rule: "month-end"; readonly months: number }
  | { readonly rule: "days"; readonly days: number };

export interface StatusAfterExpiryPolicy {
  /** The period of every kind without its own. */
  readonly default: AfterExpiryPeriod;
  /** Overrides per certificate kind (`sign`, `auth`). */
  readonly byKind: Readonly<Partial<Record<CaKind, AfterExpiryPeriod>>>;
  /** Minutes east of UTC of the calendar the month ends are counted in. Default 540 (JST, Asia/Tokyo). */
  readonly utcOffsetMinutes: number;
}

/** The default [U]: to the end of the third month after the month of expiry, in JST, every kind. */
export const defaultStatusAfterExpiryPolicy: StatusAfterExpiryPolicy = Object.freeze({
  default: Object.freeze({ rule: "month-end", months: 3 }) as AfterExpiryPeriod,
  byKind: Object.freeze({}),
  utcOffsetMinutes: 9 * 60,
});

/** Today's behaviour everywhere (what `0` configures). */
export const noStatusAfterExpiry: StatusAfterExpiryPolicy = Object.freeze({ default: Object.freeze({ rule: "none" }) as AfterExpiryPeriod, byKind: Object.freeze({}), utcOffsetMinutes: 540 });

const DAY_MS = 86_400_000;

/** Start (as an instant) of local month index `k` (year * 12 + month0) at `offsetMs` east of UTC. */
function monthStart(k: number, offsetMs: number): number {
  return Date.UTC(Math.floor(k / 12), ((k % 12) + 12) % 12, 1) - offsetMs;
}

/** Local month index (year * 12 + month0) of an instant. */
function monthIndex(ms: number, offsetMs: number): number {
  const local = new Date(ms + offsetMs);
  return local.getUTCFullYear() * 12 + local.getUTCMonth();
}

/**
 * The first instant at which status is no longer given for a certificate expiring at `notAfter`;
 * undefined for `none` (no period after expiry).
 */
export function statusUntil(notAfter: Date, period: AfterExpiryPeriod, utcOffsetMinutes = 540): Date | undefined {
  const offsetMs = utcOffsetMinutes * 60_000;
  switch (period.rule) {
    case "none":
      return undefined;
    case "month-end":
      return new Date(monthStart(monthIndex(notAfter.getTime(), offsetMs) + period.months + 1, offsetMs));
    case "days":
      return new Date(notAfter.getTime() + period.days * DAY_MS);
  }
}

/**
 * The earliest notAfter whose status is still given at `at`: status is given exactly when
 * `notAfter >= notAfterFloor(at)`. Undefined for `none`.
 */
export function notAfterFloor(at: Date, period: AfterExpiryPeriod, utcOffsetMinutes = 540): Date | undefined {
  const offsetMs = utcOffsetMinutes * 60_000;
  switch (period.rule) {
    case "none":
      return undefined;
    case "month-end":
      // statusUntil(na) > at ⟺ month(na) + N + 1 > month(at) ⟺ na ≥ start of month(at) − N.
      return new Date(monthStart(monthIndex(at.getTime(), offsetMs) - period.months, offsetMs));
    case "days":
      // na + D days > at ⟺ na > at − D days: the next millisecond.
      return new Date(at.getTime() - period.days * DAY_MS + 1);
  }
}

/**
 * The policy of a deployment, asked by CA generation (its kind) by OCSP and the CRL issuer. All pure:
 * the clock is the caller's.
 */
export class StatusAfterExpiry {
  constructor(readonly policy: StatusAfterExpiryPolicy = defaultStatusAfterExpiryPolicy) {}

  periodOf(kindOrCa: CaKind | CaId): AfterExpiryPeriod {
    const kind = (kindOrCa === "sign" || kindOrCa === "auth" ? kindOrCa : parseCaId(kindOrCa)?.kind) as CaKind | undefined;
    return (kind !== undefined ? this.policy.byKind[kind] : undefined) ?? this.policy.default;
  }

  /** Whether a kind keeps status after expiry at all (false: today's behaviour). */
  enabled(kindOrCa: CaKind | CaId): boolean {
    return this.periodOf(kindOrCa).rule !== "none";
  }

  /** See `statusUntil`. */
  until(kindOrCa: CaKind | CaId, notAfter: Date): Date | undefined {
    return statusUntil(notAfter, this.periodOf(kindOrCa), this.policy.utcOffsetMinutes);
  }

  /** See `notAfterFloor`. */
  floor(kindOrCa: CaKind | CaId, at: Date): Date | undefined {
    return notAfterFloor(at, this.periodOf(kindOrCa), this.policy.utcOffsetMinutes);
  }

  /**
   * The archiveCutoff of a response produced at `producedAt` (RFC 6960 §4.4.4), in whole seconds
   * rounded up (GeneralizedTime has no fractions; rounding up never claims more than is kept).
   */
  archiveCutoff(kindOrCa: CaKind | CaId, producedAt: Date): Date | undefined {
    const f = this.floor(kindOrCa, producedAt);
    return f === undefined ? undefined : new Date(Math.ceil(f.getTime() / 1000) * 1000);
  }

  /**
   * Whether status is past its cutoff at `at`: true only for a kind with a period, a certificate
   * past notAfter, and `at` at or after its statusUntil. (With `none`, never: today's behaviour.)
   */
  pastCutoff(kindOrCa: CaKind | CaId, notAfter: Date, at: Date): boolean {
    const f = this.floor(kindOrCa, at);
    return f !== undefined && notAfter.getTime() < f.getTime();
  }

  /** The longest period in days (an upper bound: month ends count 31 days a month plus one), for retention checks. */
  longestDays(): number {
    const kinds = [this.policy.default, ...caKinds.map((k) => this.policy.byKind[k]).filter((p): p is AfterExpiryPeriod => p !== undefined)];
    return Math.max(0, ...kinds.map((p) => (p.rule === "none" ? 0 : p.rule === "days" ? p.days : (p.months + 1) * 31)));
  }
}

/**
 * Parses the `revocationInfo` configuration section (docs/design.md invariant 8):
 *
 * ```json
 * { "afterExpiry": { "default": { "monthEnds": 3 }, "auth": { "days": 120 }, "sign": 0 }, "utcOffset": "+09:00" }
 * ```
 *
 * A period is `0` (none: today's behaviour), `{ "monthEnds": N }` (to the end of the Nth month after the
 * month of expiry, 1–24) or `{ "days": D }` (1–1,000). `utcOffset` `±HH:MM`, default `+09:00` (JST,
 * Asia/Tokyo). Throws CaError("invalid-input") naming the field.
 */
export function parseStatusAfterExpiry(raw: unknown = {}, field = "revocationInfo"): StatusAfterExpiryPolicy {
  const bad = (at: string, rule: string): CaError => new CaError("invalid-input", `${at} ${rule}`, { field: at });
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isObject(raw)) throw bad(field, "must be an object");
  for (const k of Object.keys(raw)) if (k !== "afterExpiry" && k !== "utcOffset") throw bad(`${field}.${k}`, "is not a revocationInfo setting");
  let utcOffsetMinutes = defaultStatusAfterExpiryPolicy.utcOffsetMinutes;
  if (raw.utcOffset !== undefined) {
    const m = typeof raw.utcOffset === "string" ? /^([+-])(\d{2}):(\d{2})$/.exec(raw.utcOffset) : null;
    if (!m || Number(m[2]) > 14 || Number(m[3]) > 59) throw bad(`${field}.utcOffset`, 'must be "±HH:MM", e.g. "+09:00" (JST)');
    utcOffsetMinutes = (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
  }
  const period = (v: unknown, at: string): AfterExpiryPeriod => {
    if (v === 0) return { rule: "none" };
    if (isObject(v) && Object.keys(v).length === 1) {
      if (typeof v.monthEnds === "number" && Number.isInteger(v.monthEnds) && v.monthEnds >= 1 && v.monthEnds <= 24) return Object.freeze({ rule: "month-end", months: v.monthEnds });
      if (typeof v.days === "number" && Number.isInteger(v.days) && v.days >= 1 && v.days <= 1000) return Object.freeze({ rule: "days", days: v.days });
    }
    throw bad(at, 'must be 0, { "monthEnds": 1–24 } or { "days": 1–1000 }');
  };
  const after = raw.afterExpiry ?? {};
  if (!isObject(after)) throw bad(`${field}.afterExpiry`, "must be an object");
  const byKind: Partial<Record<CaKind, AfterExpiryPeriod>> = {};
  let def = defaultStatusAfterExpiryPolicy.default;
  for (const [k, v] of Object.entries(after)) {
    const at = `${field}.afterExpiry.${k}`;
    if (k === "default") def = period(v, at);
    else if ((caKinds as readonly string[]).includes(k)) byKind[k as CaKind] = period(v, at);
    else throw bad(at, `is not a certificate kind (default, ${caKinds.join(", ")})`);
  }
  return Object.freeze({ default: def, byKind: Object.freeze(byKind), utcOffsetMinutes });
}
