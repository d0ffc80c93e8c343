import { CaError } from "../errors.js";
import type { Tx } from "../stores.js";
import { SIGNED_REQUEST_FIELD, type VerifiedHolderRequest } from "./holder-signed-request.js";

/**
 * Replay protection of holder-signed requests (docs/phone.md "Checks"): the digest of each request acted
 * on is recorded once, in the transaction of the action it caused (table `holder_requests`, migration
 * 0027), so a request is acted on at most once and a second sending is refused with 409.
 */
export interface HolderRequestEntry {
  /** `VerifiedHolderRequest.digest`. */
  readonly digest: string;
  readonly purpose: string;
  /** The signer's (card) certificate serial. */
  readonly serial: string;
  readonly createdAt: Date;
  /** What the action made, for answering a retry (a phone application's serials and answer); null for none. */
  readonly outcome: Readonly<Record<string, unknown>> | null;
}

/** Port; adapter db/holder-request-store.ts. */
export interface HolderRequestLog {
  /** Inserts the entry; false (nothing written) when the digest is recorded already. */
  insert(entry: HolderRequestEntry, tx: Tx): Promise<boolean>;
  get(digest: string, tx?: Tx): Promise<HolderRequestEntry | undefined>;
  /** Replaces the outcome of a recorded request (in the transaction that completes the action). */
  setOutcome(digest: string, outcome: Readonly<Record<string, unknown>>, tx: Tx): Promise<void>;
  /**
   * Requests of `purpose` recorded before `before` whose outcome has neither an `answer` nor `failed`: an
   * action that crashed between its steps (the phone reconciler, docs/design.md invariant 1). Oldest first.
   */
  listUnfinished(purpose: string, before: Date, limit: number, tx?: Tx): Promise<HolderRequestEntry[]>;
}

/** The CaError of a replayed request (409, field `signedRequest`). */
export class HolderRequestReplayed extends CaError {
  constructor() {
    super("conflict", "this signed request was already used", { field: SIGNED_REQUEST_FIELD });
  }
}

/**
 * Records `request` in `tx`; throws HolderRequestReplayed when it was recorded before. Call it inside the
 * transaction that carries out the request, so the record and the action commit together.
 */
export async function recordHolderRequestOnce(
  log: Pick<HolderRequestLog, "insert">,
  request: VerifiedHolderRequest,
  at: Date,
  tx: Tx,
  outcome: Readonly<Record<string, unknown>> | null = null,
): Promise<void> {
  const inserted = await log.insert({ digest: request.digest, purpose: request.content.purpose, serial: request.certificate.serial, createdAt: at, outcome }, tx);
  if (!inserted) throw new HolderRequestReplayed();
}
