import type { ConsentStore } from "../consents/consent.js";
import { CaError, isCaError } from "../errors.js";
import { latestOf, type CertificateLinkStore } from "../linkage/certificate-links.js";
import type { Clock } from "../ports.js";
import type { AuditStore, CertificateStore, TransactionRunner, Tx } from "../stores.js";
import type { CaKind } from "../types.js";
import { QueryRateLimited, type QueryLimit } from "./query-limit.js";
import { defaultQueryRules, mayAsk, type QueryName, type QueryRules, type RelyingPartyEnvironment, type VerifierProfile } from "./verifier-types.js";

/**
 * Relying-party queries (issue 16 item 4; docs/relying-parties.md "Queries"):
 * - `current-serial-sign` / `current-serial-auth`: the newest certificate the successor links lead to
 *   from an old serial (same holder, kind and device), with the holder's consent;
 * - `card-phone-pair`: the card signing certificate a phone signing certificate corresponds to
 *   (公的個人認証法 第18条4項);
 * - `sign-auth-pair`: the signing ↔ user-auth pair of one issuance (第18条5項);
 * - `latest-four-items`: name, address, date of birth, gender from the CA's resident record and the
 *   current signing serial, with consent; nothing (409) while the signing certificate is revoked or
 *   suspended and no successor has been issued (最新の基本4情報, docs/domain.md §9).
 *
 * Order of checks: the per-party limit (every query counts), the party's environment and verifier
 * types (answers that say nothing about any serial), then — in one transaction with the record of the
 * answer — the serial, whether the party could know it, the consent, the answer. An unknown serial, one
 * of another kind, one the party could not know, no consent and no linked certificate all get the same
 * 404 (what OCSP would say of an unknown serial, no more). Every answer is recorded in
 * `relying_party_provisions` in its transaction (no answer without its record); every refusal is audited.
 */
export interface QueryAsker {
  /** The authenticated party (its client certificate or API key). */
  readonly partyId: string;
  /** A service provider the platform operator asks for (施行規則29条); its consent counts. */
  readonly onBehalfOf?: string;
}

export interface FourItems {
  readonly name: string;
  readonly address: string;
  readonly dateOfBirth: string;
  readonly gender: number;
}

export type QueryAnswer =
  | { readonly query: "current-serial-sign" | "current-serial-auth"; readonly serial: string; readonly currentSerial: string; readonly status: string; readonly notAfter: string }
  | { readonly query: "card-phone-pair"; readonly phoneSerial: string; readonly cardSerial: string }
  | { readonly query: "sign-auth-pair"; readonly signSerial: string; readonly authSerial: string }
  | ({ readonly query: "latest-four-items"; readonly serial: string; readonly currentSigningSerial: string; readonly asOf: string } & FourItems);

/** One answer as recorded (table relying_party_provisions). */
export interface Provision {
  readonly at: Date;
  readonly partyId: string;
  readonly onBehalfOf: string | null;
  readonly query: QueryName;
  readonly residentCode: string;
  readonly askedSerial: string;
  readonly answeredSerials: readonly string[];
}

/** Ports of the query service; adapters in db/relying-party-query-store.ts and db/provision-store.ts. */
export interface ProvisionStore {
  record(p: Provision, tx: Tx): Promise<void>;
}
export interface SerialKnowledge {
  /** Has one of `partyIds` asked OCSP about `serial`, or been given it by an earlier answer? */
  knows(partyIds: readonly string[], serial: string, tx?: Tx): Promise<boolean>;
}
export interface ResidentFourItems {
  fourItems(residentCode: string, tx?: Tx): Promise<FourItems | undefined>;
}

export interface QuerySettings {
  /** [U] The environment this service is (config `relyingPartyQueries.environment`, default production). */
  readonly environment: RelyingPartyEnvironment;
  /** [U] Refuse serials the party could not know (default true). */
  readonly requireKnownSerial: boolean;
  readonly rules: QueryRules;
}

export const defaultQuerySettings: QuerySettings = Object.freeze({ environment: "production", requireKnownSerial: true, rules: defaultQueryRules });

export interface RelyingPartyQueryDeps {
  readonly parties: { profile(id: string, tx?: Tx): Promise<VerifierProfile | undefined> };
  readonly certificates: Pick<CertificateStore, "get">;
  readonly links: Pick<CertificateLinkStore, "from" | "to">;
  readonly consents: Pick<ConsentStore, "open">;
  readonly residents: ResidentFourItems;
  readonly knowledge: SerialKnowledge;
  readonly provisions: ProvisionStore;
  readonly limit: Pick<QueryLimit, "take">;
  readonly audit: Pick<AuditStore, "append">;
  readonly transactions: TransactionRunner;
  readonly clock: Clock;
  readonly settings?: QuerySettings;
}

/** The one answer for every serial the party gets nothing about; `reason` goes to the audit log only. */
class NoAnswer extends CaError {
  constructor(readonly reason: string) {
    super("not-found", "no answer for this serial", { field: "serial" });
  }
}

/** The kind (and device) a query's serial must be of. */
const serialShape: Readonly<Record<QueryName, { kind: CaKind | null; device: "card" | "phone" | null }>> = {
  "current-serial-sign": { kind: "sign", device: null },
  "current-serial-auth": { kind: "auth", device: null },
  "card-phone-pair": { kind: "sign", device: "phone" },
  "sign-auth-pair": { kind: null, device: null },
  "latest-four-items": { kind: "sign", device: null },
};

export class RelyingPartyQueries {
  private readonly settings: QuerySettings;
  constructor(private readonly deps: RelyingPartyQueryDeps) {
    this.settings = deps.settings ?? defaultQuerySettings;
  }

  /** Answers `query` about `serial` for `asker`, recording the answer; refusals are audited. */
  async ask(asker: QueryAsker, query: QueryName, serial: string): Promise<QueryAnswer> {
    try {
      await this.deps.limit.take(asker.partyId);
      const { party, consentParty } = await this.authorize(asker, query);
      if (!/^[0-9a-f]{1,40}$/.test(serial)) throw new CaError("invalid-input", "serial must be lower-case hex", { field: "serial" });
      return await this.deps.transactions.transaction((tx) => this.answer(tx, party, consentParty, asker, query, serial));
    } catch (e) {
      if (isCaError(e) && e.kind !== "unavailable" && e.kind !== "internal" && !(e instanceof QueryRateLimited && !e.first)) await this.auditDenial(asker, query, serial, e);
      throw e;
    }
  }

  /** The party's environment and types; for a platform operator, the service provider it names. */
  private async authorize(asker: QueryAsker, query: QueryName): Promise<{ party: VerifierProfile; consentParty: string }> {
    const party = await this.deps.parties.profile(asker.partyId);
    if (!party || !party.active) throw new CaError("unauthenticated", "not an active registered relying party");
    let consentParty = party.id;
    if (asker.onBehalfOf !== undefined) {
      const provider = await this.deps.parties.profile(asker.onBehalfOf);
      if (!party.types.includes("platform") || !provider || !provider.active || provider.platformId !== party.id) {
        throw new CaError("forbidden", "onBehalfOf must be an active service provider of this platform operator", { field: "onBehalfOf" });
      }
      consentParty = provider.id;
    }
    if (party.environment !== this.settings.environment) throw new CaError("forbidden", `this service answers ${this.settings.environment} relying parties only`);
    if (!mayAsk(party.types, query, this.settings.rules)) throw new CaError("forbidden", "this relying party is not registered for this query", { field: "query" });
    return { party, consentParty };
  }

  private async answer(tx: Tx, party: VerifierProfile, consentParty: string, asker: QueryAsker, query: QueryName, serial: string): Promise<QueryAnswer> {
    const { certificates, links } = this.deps;
    const cert = await certificates.get(serial, tx);
    const shape = serialShape[query];
    if (!cert || cert.residentCode === null || cert.status === "pending" || cert.status === "failed") throw new NoAnswer("unknown-serial");
    if ((shape.kind !== null && cert.kind !== shape.kind) || (shape.device !== null && cert.device !== shape.device)) throw new NoAnswer("wrong-kind");
    if (this.settings.requireKnownSerial && !(await this.deps.knowledge.knows([...new Set([party.id, consentParty])], serial, tx))) throw new NoAnswer("serial-not-known-to-party");
    const residentCode = cert.residentCode;
    if (this.settings.rules[query].consent) {
      const consent = await this.deps.consents.open(residentCode, consentParty, tx);
      if (!consent || !consent.scope.includes(query)) throw new NoAnswer("no-consent");
    }
    const now = this.deps.clock.now();
    let answer: QueryAnswer;
    let answered: string[];
    switch (query) {
      case "current-serial-sign":
      case "current-serial-auth": {
        const current = await latestOf(serial, links, tx);
        const c = current === serial ? cert : await certificates.get(current, tx);
        if (!c) throw new NoAnswer("successor-missing");
        answer = { query, serial, currentSerial: current, status: c.status, notAfter: c.notAfter.toISOString() };
        answered = [current];
        break;
      }
      case "card-phone-pair": {
        const card = newest(await links.to(serial, "card-phone", tx))?.fromSerial;
        if (card === undefined) throw new NoAnswer("no-link");
        answer = { query, phoneSerial: serial, cardSerial: card };
        answered = [card];
        break;
      }
      case "sign-auth-pair": {
        const other = cert.kind === "sign" ? newest(await links.from(serial, "sign-auth", tx))?.toSerial : newest(await links.to(serial, "sign-auth", tx))?.fromSerial;
        if (other === undefined) throw new NoAnswer("no-link");
        answer = cert.kind === "sign" ? { query, signSerial: serial, authSerial: other } : { query, signSerial: other, authSerial: serial };
        answered = [other];
        break;
      }
      case "latest-four-items": {
        const current = await latestOf(serial, links, tx);
        const c = current === serial ? cert : await certificates.get(current, tx);
        // 最新の基本4情報: nothing while the signing certificate is revoked and no successor has been issued;
        // [U] the same while it is suspended (hold) or expired (docs/relying-parties.md).
        if (!c || c.status !== "valid" || c.notAfter.getTime() <= now.getTime()) {
          throw new CaError("conflict", "the holder has no valid signing certificate now: nothing is provided until a new one is issued", { field: "serial" });
        }
        const items = await this.deps.residents.fourItems(residentCode, tx);
        if (!items) throw new NoAnswer("no-resident-record");
        answer = { query, serial, currentSigningSerial: current, asOf: now.toISOString(), ...items };
        answered = [current];
        break;
      }
    }
    await this.deps.provisions.record({ at: now, partyId: party.id, onBehalfOf: asker.onBehalfOf ?? null, query, residentCode, askedSerial: serial, answeredSerials: answered }, tx);
    return answer;
  }

  private async auditDenial(asker: QueryAsker, query: QueryName, serial: string, e: CaError): Promise<void> {
    await this.deps.audit.append({
      at: this.deps.clock.now(),
      action: "relying-party.query.denied",
      actor: `relying-party:${asker.partyId}`,
      subject: /^[0-9a-f]{1,40}$/.test(serial) ? `certificate:${serial}` : null,
      outcome: "denied",
      detail: { query, onBehalfOf: asker.onBehalfOf ?? null, kind: e.kind, reason: e instanceof NoAnswer ? e.reason : e.message },
    });
  }
}

function newest<T extends { createdAt: Date }>(links: readonly T[]): T | undefined {
  return [...links].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime()).at(-1);
}
