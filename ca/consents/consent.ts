/**
 * @packageDocumentation
 * ca/consents: the consent register (issue 16 item 3, docs/relying-parties.md "Consents").
 *
 * - consent.ts (this file): the consent record and its store port.
 * - consent-register.ts: grant and withdrawal by requests the resident signs with the card's user-auth
 *   key (ca/holder/holder-signed-request.ts), each audited.
 */
import type { QueryName } from "../relying-parties/verifier-types.js";
import type { Tx } from "../stores.js";

/** One grant (table consents, migration 0029): open until withdrawn. */
export interface Consent {
  readonly id: string;
  readonly residentCode: string;
  /** The relying party the resident named (a service provider, when it acts through a platform operator). */
  readonly partyId: string;
  /** The queries the consent covers. */
  readonly scope: readonly QueryName[];
  readonly grantedAt: Date;
  /** Serial of the card user-auth certificate that signed the grant. */
  readonly grantedWith: string;
  readonly withdrawnAt: Date | null;
  readonly withdrawnWith: string | null;
}

export type NewConsent = Omit<Consent, "id" | "withdrawnAt" | "withdrawnWith">;

/** Port; adapter db/consent-store.ts. */
export interface ConsentStore {
  /** The open consent of a resident to a party, if any (locking it when `tx` is given). */
  open(residentCode: string, partyId: string, tx?: Tx): Promise<Consent | undefined>;
  /** Inserts a grant; the caller closed the previous open one in the same transaction. */
  insert(consent: NewConsent, tx: Tx): Promise<Consent>;
  /** Closes the open consent; false when there was none. */
  close(residentCode: string, partyId: string, at: Date, withdrawnWith: string, tx: Tx): Promise<boolean>;
  /** Every grant of a resident, open or withdrawn, oldest first (the disclosure report). */
  ofResident(residentCode: string, tx?: Tx): Promise<Consent[]>;
}
