/**
 * @packageDocumentation
 * ca/relying-parties: the registered parties that may read revocation data (CRL, OCSP).
 *
 * - relying-party.ts (this file): the registry, its store port, and authentication by API key or
 *   client certificate.
 * - relying-party-enrolment.ts: registration by the CA operator (API key and/or client certificate).
 * - verifier-types.ts: verifier types, environments, and which type may ask which query (data).
 * - relying-party-queries.ts: the queries (current serial, card ↔ phone, sign ↔ auth, latest four items).
 * - query-limit.ts: the per-party query limit shared through the database.
 */
import { timingSafeEqual } from "node:crypto";
import { CaError } from "../errors.js";
import type { Clock, Random } from "../ports.js";
import { sha256Hex } from "../sha256.js";
import type { AuditStore, TransactionRunner, Tx } from "../stores.js";
import type { RelyingPartyEnvironment, VerifierProfile, VerifierType } from "./verifier-types.js";

/**
 * Registered relying parties (docs/domain.md §1, §4: in JPKI only registered relying parties read revocation
 * data). A party authenticates to the CRL and OCSP endpoints with an API key (`Authorization: Bearer`)
 * or with a service-CA client certificate whose OU is `relying-party` and CN its id.
 * API keys are shown once and stored as SHA-256 hashes: they are 256-bit random, so a fast hash is
 * enough (no password stretching needed for high-entropy secrets).
 */
export interface RelyingParty {
  readonly id: string;
  readonly name: string;
  readonly active: boolean;
}

/** The port CRL and OCSP endpoints use to recognise a registered relying party. */
export interface RelyingPartyAuthenticator {
  byApiKey(apiKey: string): Promise<RelyingParty | undefined>;
  byCertificateId(id: string): Promise<RelyingParty | undefined>;
}

export interface RelyingPartyRecord extends RelyingParty {
  readonly apiKeySha256: string | null;
  readonly createdAt: Date;
  /** Verifier types (migration 0029); default `signing` + `user-auth`. */
  readonly verifierTypes?: readonly VerifierType[];
  /** Default `production`. */
  readonly environment?: RelyingPartyEnvironment;
  /** A service provider's platform operator (施行規則29条); default none. */
  readonly platformId?: string | null;
}

/** The registration details of migration 0029, given at registration. */
export interface VerifierRegistration {
  readonly verifierTypes: readonly VerifierType[];
  readonly environment: RelyingPartyEnvironment;
  readonly platformId: string | null;
}

export interface RelyingPartyStore {
  insert(record: RelyingPartyRecord, tx?: Tx): Promise<void>;
  get(id: string, tx?: Tx): Promise<RelyingPartyRecord | undefined>;
  findByApiKeyHash(sha256: string, tx?: Tx): Promise<RelyingPartyRecord | undefined>;
  setActive(id: string, active: boolean, tx?: Tx): Promise<boolean>;
  /** The verifier profile (types, environment, platform) of a party. */
  profile(id: string, tx?: Tx): Promise<VerifierProfile | undefined>;
  /** Changes a party's verifier types and environment; false when there is no such party. */
  setVerifier(id: string, verifier: { verifierTypes: readonly VerifierType[]; environment: RelyingPartyEnvironment }, tx?: Tx): Promise<boolean>;
  /** Are service providers registered under this platform operator? */
  hasProviders(platformId: string, tx?: Tx): Promise<boolean>;
}

export const apiKeyHash = (apiKey: string): string => sha256Hex(apiKey);

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/** Registration and lookup of relying parties. */
export class RelyingPartyRegistry implements RelyingPartyAuthenticator {
  constructor(private readonly deps: { store: RelyingPartyStore; audit: Pick<AuditStore, "append">; transactions: TransactionRunner; clock: Clock; random: Random }) {}

  /** Registers a party; returns the API key, which is never stored or shown again. */
  async register(actor: string, input: { id: string; name: string } & Partial<VerifierRegistration>): Promise<{ party: RelyingParty; apiKey: string }> {
    if (!ID.test(input.id)) throw new CaError("invalid-input", "must be 1–64 of [A-Za-z0-9._:-]", { field: "id" });
    if (input.name.length === 0 || input.name.length > 200) throw new CaError("invalid-input", "must be 1–200 characters", { field: "name" });
    const apiKey = `rp_${Buffer.from(this.deps.random.bytes(32)).toString("base64url")}`;
    const now = this.deps.clock.now();
    const record: RelyingPartyRecord = { id: input.id, name: input.name, active: true, apiKeySha256: apiKeyHash(apiKey), createdAt: now, ...verifierFields(input) };
    await this.deps.transactions.transaction(async (tx) => {
      await this.deps.store.insert(record, tx);
      await this.deps.audit.append({ at: now, action: "relying-party.registered", actor, subject: `relying-party:${input.id}`, outcome: "success", detail: { name: input.name, ...verifierFields(input) } }, tx);
    });
    return { party: { id: record.id, name: record.name, active: true }, apiKey };
  }

  async deactivate(actor: string, id: string): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.transactions.transaction(async (tx) => {
      if (!(await this.deps.store.setActive(id, false, tx))) throw new CaError("not-found", "no such relying party");
      await this.deps.audit.append({ at: now, action: "relying-party.deactivated", actor, subject: `relying-party:${id}`, outcome: "success", detail: {} }, tx);
    });
  }

  async byApiKey(apiKey: string): Promise<RelyingParty | undefined> {
    if (!/^rp_[A-Za-z0-9_-]{43}$/.test(apiKey)) return undefined;
    const hash = apiKeyHash(apiKey);
    const r = await this.deps.store.findByApiKeyHash(hash);
    // The lookup is by hash; compare again in constant time all the same.
    if (!r || !r.active || !r.apiKeySha256 || !timingSafeEqual(Buffer.from(r.apiKeySha256), Buffer.from(hash))) return undefined;
    return { id: r.id, name: r.name, active: r.active };
  }

  async byCertificateId(id: string): Promise<RelyingParty | undefined> {
    const r = await this.deps.store.get(id);
    return r && r.active ? { id: r.id, name: r.name, active: r.active } : undefined;
  }
}

/** The migration-0029 fields of a registration that were given (the store applies the defaults to the others). */
export function verifierFields(input: Partial<VerifierRegistration>): Partial<VerifierRegistration> {
  return {
    ...(input.verifierTypes === undefined ? {} : { verifierTypes: input.verifierTypes }),
    ...(input.environment === undefined ? {} : { environment: input.environment }),
    ...(input.platformId === undefined || input.platformId === null ? {} : { platformId: input.platformId }),
  };
}
