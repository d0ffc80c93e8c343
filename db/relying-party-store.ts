import type { RelyingPartyRecord, RelyingPartyStore } from "../ca/relying-parties/relying-party.js";
import type { RelyingPartyEnvironment, VerifierProfile, VerifierType } from "../ca/relying-parties/verifier-types.js";
import type { Tx } from "../ca/stores.js";
import { dateFromColumn } from "./column-values.js";
import type { Database } from "./database.js";
import { mapConstraintErrors } from "./database-errors.js";

type Row = Record<string, unknown>;
const toRecord = (r: Row): RelyingPartyRecord => ({
  id: String(r.id),
  name: String(r.name),
  active: Boolean(r.active),
  apiKeySha256: r.api_key_sha256 === null ? null : String(r.api_key_sha256),
  createdAt: dateFromColumn(r.created_at),
  verifierTypes: typesOf(r.verifier_types),
  environment: String(r.environment) as RelyingPartyEnvironment,
  platformId: r.platform_id === null || r.platform_id === undefined ? null : String(r.platform_id),
});
// jsonb: pg parses it, knex-pglite too; a string only from an older driver.
const typesOf = (v: unknown): VerifierType[] => (typeof v === "string" ? (JSON.parse(v) as VerifierType[]) : (v as VerifierType[]));
/** Migration 0029's defaults, written explicitly so a record says what it is. */
const DEFAULT_TYPES: readonly VerifierType[] = ["signing", "user-auth"];

/** RelyingPartyStore on PostgreSQL / PGlite (table relying_parties, migrations 0010 and 0029). */
export class KnexRelyingPartyStore implements RelyingPartyStore {
  constructor(private readonly db: Database) {}

  async insert(r: RelyingPartyRecord, tx?: Tx): Promise<void> {
    await mapConstraintErrors("relying party", () =>
      this.db.executor(tx)("relying_parties").insert({
        id: r.id,
        name: r.name,
        active: r.active,
        api_key_sha256: r.apiKeySha256,
        created_at: r.createdAt,
        verifier_types: JSON.stringify(r.verifierTypes ?? DEFAULT_TYPES),
        environment: r.environment ?? "production",
        platform_id: r.platformId ?? null,
      }),
    );
  }

  async get(id: string, tx?: Tx): Promise<RelyingPartyRecord | undefined> {
    const row = (await this.db.executor(tx)("relying_parties").where({ id }).first()) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  async findByApiKeyHash(sha256: string, tx?: Tx): Promise<RelyingPartyRecord | undefined> {
    const row = (await this.db.executor(tx)("relying_parties").where({ api_key_sha256: sha256 }).first()) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  async setActive(id: string, active: boolean, tx?: Tx): Promise<boolean> {
    const rows = await this.db.executor(tx)("relying_parties").where({ id }).update({ active }, ["id"]);
    return rows.length === 1;
  }

  async setVerifier(id: string, v: { verifierTypes: readonly VerifierType[]; environment: RelyingPartyEnvironment }, tx?: Tx): Promise<boolean> {
    const rows = await this.db.executor(tx)("relying_parties").where({ id }).update({ verifier_types: JSON.stringify(v.verifierTypes), environment: v.environment }, ["id"]);
    return rows.length === 1;
  }

  /** Every registered party, active or not, by id (the console's list; docs/api.md §7). */
  async list(limit = 1000, tx?: Tx): Promise<RelyingPartyRecord[]> {
    const rows = (await this.db.executor(tx)("relying_parties").orderBy("id").limit(limit)) as Row[];
    return rows.map(toRecord);
  }

  async hasProviders(platformId: string, tx?: Tx): Promise<boolean> {
    return (await this.db.executor(tx)("relying_parties").where({ platform_id: platformId }).first("id")) !== undefined;
  }

  async profile(id: string, tx?: Tx): Promise<VerifierProfile | undefined> {
    const row = (await this.db.executor(tx)("relying_parties").where({ id }).first("id", "active", "verifier_types", "environment", "platform_id")) as Row | undefined;
    if (!row) return undefined;
    return {
      id: String(row.id),
      active: Boolean(row.active),
      types: typesOf(row.verifier_types),
      environment: String(row.environment) as RelyingPartyEnvironment,
      platformId: row.platform_id === null || row.platform_id === undefined ? null : String(row.platform_id),
    };
  }
}
