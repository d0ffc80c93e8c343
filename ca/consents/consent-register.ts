import { recordHolderRequestOnce, type HolderRequestLog } from "../holder/holder-request-log.js";
import { auditHolderDenials, SIGNED_REQUEST_FIELD, type HolderRequestExpectation, type VerifiedHolderRequest } from "../holder/holder-signed-request.js";
import { CaError } from "../errors.js";
import type { Clock } from "../ports.js";
import { consentableQueries, type QueryName, type VerifierProfile } from "../relying-parties/verifier-types.js";
import type { AuditStore, TransactionRunner } from "../stores.js";
import type { Consent, ConsentStore } from "./consent.js";

/** The purposes a consent request is signed for (a request signed for one is refused as the other). */
export const CONSENT_GRANT = "consent-grant";
export const CONSENT_WITHDRAWAL = "consent-withdrawal";

/** ca/holder/holder-signed-request.ts `verifyHolderSignedRequest`, bound to its deps (a port here). */
export type HolderRequestVerifier = (der: Uint8Array, expected: HolderRequestExpectation) => Promise<VerifiedHolderRequest>;

export interface ConsentRegisterDeps {
  readonly verify: HolderRequestVerifier;
  readonly requests: Pick<HolderRequestLog, "insert">;
  readonly consents: ConsentStore;
  readonly parties: { profile(id: string): Promise<VerifierProfile | undefined> };
  readonly audit: Pick<AuditStore, "append">;
  readonly transactions: TransactionRunner;
  readonly clock: Clock;
}

const contentField = (name: string): string => `${SIGNED_REQUEST_FIELD}.${name}`;

/**
 * The consent register (issue 16 item 3; 最新の基本4情報 is provided only with the holder's consent,
 * docs/domain.md §9): a resident grants or withdraws consent for a named relying party
 * and a scope of queries by a request signed with the CARD's user-auth key, relayed by the holder
 * portal. The resident is the one the signing certificate was issued to; nothing in the request names
 * them. Each request is acted on once (its digest recorded in the same transaction), and every grant,
 * withdrawal and refusal is audited.
 *
 * Signed content: `{ purpose: "consent-grant", signedAt, relyingParty, scope: [query…] }` or
 * `{ purpose: "consent-withdrawal", signedAt, relyingParty }`.
 */
export class ConsentRegister {
  constructor(private readonly deps: ConsentRegisterDeps) {}

  /** Grants (or replaces: a new scope closes the previous grant) the consent the request names. */
  async grant(actor: string, signedRequest: Uint8Array): Promise<Consent> {
    const expected: HolderRequestExpectation = { purpose: CONSENT_GRANT, kind: "auth", device: "card", actor };
    return auditHolderDenials(this.deps, expected, async () => {
      const request = await this.deps.verify(signedRequest, expected);
      const residentCode = residentOf(request);
      const partyId = await this.namedParty(request);
      const scope = parseScope(request.content.scope);
      const now = this.deps.clock.now();
      return this.deps.transactions.transaction(async (tx) => {
        await recordHolderRequestOnce(this.deps.requests, request, now, tx);
        const replaced = await this.deps.consents.close(residentCode, partyId, now, request.certificate.serial, tx);
        const consent = await this.deps.consents.insert({ residentCode, partyId, scope, grantedAt: now, grantedWith: request.certificate.serial }, tx);
        await this.deps.audit.append(
          { at: now, action: "consent.granted", actor, subject: `resident:${residentCode}`, outcome: "success", detail: { residentCode, relyingParty: partyId, scope: [...scope], signedWith: request.certificate.serial, replaced } },
          tx,
        );
        return consent;
      });
    });
  }

  /** Withdraws the open consent to the named party; 404 when there is none. Takes effect for the next query. */
  async withdraw(actor: string, signedRequest: Uint8Array): Promise<{ residentCode: string; partyId: string; withdrawnAt: Date }> {
    const expected: HolderRequestExpectation = { purpose: CONSENT_WITHDRAWAL, kind: "auth", device: "card", actor };
    return auditHolderDenials(this.deps, expected, async () => {
      const request = await this.deps.verify(signedRequest, expected);
      const residentCode = residentOf(request);
      const partyId = await this.namedParty(request, { mustBeActive: false });
      const now = this.deps.clock.now();
      return this.deps.transactions.transaction(async (tx) => {
        await recordHolderRequestOnce(this.deps.requests, request, now, tx);
        if (!(await this.deps.consents.close(residentCode, partyId, now, request.certificate.serial, tx))) {
          throw new CaError("not-found", "there is no consent to this relying party to withdraw", { field: contentField("relyingParty") });
        }
        await this.deps.audit.append(
          { at: now, action: "consent.withdrawn", actor, subject: `resident:${residentCode}`, outcome: "success", detail: { residentCode, relyingParty: partyId, signedWith: request.certificate.serial } },
          tx,
        );
        return { residentCode, partyId, withdrawnAt: now };
      });
    });
  }

  /** The registered party the content names: a grant needs an active one; a withdrawal works for any. */
  private async namedParty(request: VerifiedHolderRequest, options: { mustBeActive: boolean } = { mustBeActive: true }): Promise<string> {
    const id = request.content.relyingParty;
    if (typeof id !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(id)) throw new CaError("invalid-input", "relyingParty must be a relying-party id", { field: contentField("relyingParty") });
    const party = await this.deps.parties.profile(id);
    if (!party || (options.mustBeActive && !party.active)) throw new CaError("unprocessable", "relyingParty is not a registered, active relying party", { field: contentField("relyingParty") });
    return id;
  }
}

function residentOf(request: VerifiedHolderRequest): string {
  const code = request.certificate.residentCode;
  if (code === null) throw new CaError("unprocessable", "the signer's certificate belongs to no resident record", { field: SIGNED_REQUEST_FIELD });
  return code;
}

/** The scope: a non-empty list of consentable queries, each once. */
export function parseScope(value: unknown): QueryName[] {
  const field = contentField("scope");
  if (!Array.isArray(value) || value.length === 0) throw new CaError("invalid-input", `scope must list at least one of ${consentableQueries.join(", ")}`, { field });
  const out: QueryName[] = [];
  for (const q of value) {
    if (typeof q !== "string" || !(consentableQueries as readonly string[]).includes(q)) throw new CaError("invalid-input", `scope may list only ${consentableQueries.join(", ")}`, { field });
    if (!out.includes(q as QueryName)) out.push(q as QueryName);
  }
  return out;
}
