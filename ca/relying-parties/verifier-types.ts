import { CaError } from "../errors.js";

/**
 * Verifier types of a registered relying party and what each may ask (docs/relying-parties.md).
 *
 * - `signing` (署名検証者) and `user-auth` (利用者証明検証者): 公的個人認証法 第17条・第38条 verifiers;
 * - `platform` (プラットフォーム事業者): a platform operator certified by the minister, whose service
 *   providers (sub-parties registered with `platformId`) leave every check to it (施行規則29条,
 *   docs/domain.md §9 "Who may register").
 *
 * What each type may ask is data: {@link defaultQueryRules}, overridable by configuration
 * (`relyingPartyQueries.rules`). Each [U] choice is listed in docs/relying-parties.md.
 */
export const verifierTypes = ["signing", "user-auth", "platform"] as const;
export type VerifierType = (typeof verifierTypes)[number];

/** [U] A party is registered for one environment; the service runs as one (docs/relying-parties.md "Environments"). */
export const relyingPartyEnvironments = ["test", "production"] as const;
export type RelyingPartyEnvironment = (typeof relyingPartyEnvironments)[number];

/** The queries of docs/api.md "Relying-party queries". */
export const queryNames = ["current-serial-sign", "current-serial-auth", "card-phone-pair", "sign-auth-pair", "latest-four-items"] as const;
export type QueryName = (typeof queryNames)[number];

/** The queries a resident's consent can cover (the pair queries rest on the law, 第18条4項・5項, not on consent). */
export const consentableQueries: readonly QueryName[] = ["current-serial-sign", "current-serial-auth", "latest-four-items"];

/** One rule: the verifier types a party must ALL hold to ask a query, and whether the holder's consent is needed. */
export interface QueryRule {
  readonly requires: readonly VerifierType[];
  readonly consent: boolean;
}

export type QueryRules = Readonly<Record<QueryName, QueryRule>>;

/**
 * The default table:
 * - signing verifier → current signing serial for an old one [U], the card signing serial of a phone
 *   signing certificate (第18条4項 [F]), the latest four items + current signing serial (最新の基本4情報,
 *   with consent [F]);
 * - signing + user-auth → the sign ↔ auth pair of one holder (第18条5項 [F]);
 * - user-auth verifier → current user-auth serial for an old one [U] (J-LIS's own old → new user-auth
 *   link was not found stated: docs/domain.md §9).
 * `platform` alone grants nothing: a platform operator asks as the verifier types it is registered with.
 */
export const defaultQueryRules: QueryRules = Object.freeze({
  "current-serial-sign": { requires: ["signing"], consent: true },
  "current-serial-auth": { requires: ["user-auth"], consent: true },
  "card-phone-pair": { requires: ["signing"], consent: false },
  "sign-auth-pair": { requires: ["signing", "user-auth"], consent: false },
  "latest-four-items": { requires: ["signing"], consent: true },
});

/** The verifier profile of a registered party (migration 0029). */
export interface VerifierProfile {
  readonly id: string;
  readonly active: boolean;
  readonly types: readonly VerifierType[];
  readonly environment: RelyingPartyEnvironment;
  /** For a service provider acting through a platform operator: the operator's id. */
  readonly platformId: string | null;
}

/** May a party holding `types` ask `query` under `rules`? */
export function mayAsk(types: readonly VerifierType[], query: QueryName, rules: QueryRules = defaultQueryRules): boolean {
  return rules[query].requires.every((t) => types.includes(t));
}

/** Validates a set of verifier types (non-empty, known, no duplicates); CaError naming `field`. */
export function parseVerifierTypes(value: readonly string[], field = "verifierTypes"): VerifierType[] {
  if (value.length === 0) throw new CaError("invalid-input", "at least one verifier type", { field });
  const out: VerifierType[] = [];
  for (const v of value) {
    if (!(verifierTypes as readonly string[]).includes(v)) throw new CaError("invalid-input", `unknown verifier type (one of ${verifierTypes.join(", ")})`, { field });
    if (out.includes(v as VerifierType)) throw new CaError("invalid-input", "a verifier type is given twice", { field });
    out.push(v as VerifierType);
  }
  return out;
}

/** Validates configured rules: every query present, known types only. Throws CaError naming the query. */
export function parseQueryRules(raw: Partial<Record<string, { requires: string[]; consent: boolean }>> | undefined): QueryRules {
  if (raw === undefined) return defaultQueryRules;
  const out: Record<string, QueryRule> = {};
  for (const q of queryNames) {
    const r = raw[q];
    if (r === undefined) {
      out[q] = defaultQueryRules[q];
      continue;
    }
    // A pair query needs no consent by law; a consent-based query may never drop its consent.
    if (defaultQueryRules[q].consent && !r.consent) throw new CaError("invalid-input", "this query always needs the holder's consent", { field: `relyingPartyQueries.rules.${q}` });
    out[q] = Object.freeze({ requires: Object.freeze(parseVerifierTypes(r.requires, `relyingPartyQueries.rules.${q}`)), consent: r.consent });
  }
  for (const k of Object.keys(raw)) if (!(queryNames as readonly string[]).includes(k)) throw new CaError("invalid-input", "unknown query", { field: `relyingPartyQueries.rules.${k}` });
  return Object.freeze(out) as QueryRules;
}
