import type { Clock } from "../ca/ports.js";
import type { StatusAfterExpiry } from "../ca/revocation/status-after-expiry.js";
import { encodeResponseData, signOcspResponse, type SingleStatus } from "./ocsp-response.js";
import type { IssuerEntry } from "./responders.js";

/**
 * Builds and signs one OCSPResponse with a CA generation's delegated responder: thisUpdate =
 * producedAt = now (whole seconds, RFC 5280 §4.1.2.5.2 via RFC 6960), nextUpdate = thisUpdate +
 * validity (default 24 h: CA/B BR §4.9.10 allows 8 h to 10 days; docs/domain.md §4 keeps CRLs within 24 h too).
 */
export interface ResponseValidity {
  /** Default 24 h. */
  readonly validityMs: number;
  /** For answers about a state that is about to change (a pending serial). Default 60 s. */
  readonly provisionalValidityMs: number;
}

export const defaultResponseValidity: ResponseValidity = Object.freeze({ validityMs: 24 * 3600_000, provisionalValidityMs: 60_000 });

export interface SignedResponse {
  readonly der: Uint8Array;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly producedAt: Date;
}

export interface ResponseItem {
  /** The CertID DER to answer for. */
  readonly certId: Uint8Array;
  readonly status: SingleStatus;
  readonly provisional: boolean;
  /**
   * The end of the certificate's status after expiry (ca/revocation/status-after-expiry.ts): nextUpdate
   * is not set beyond it, so no response of an expired certificate outlives the period it is answered in.
   */
  readonly statusUntil?: Date | undefined;
}

/**
 * Every stored response (pre-signed, refreshed, a live miss that is kept) has its signature verified
 * before use. Live answers that are never stored (nonce, several CertIDs) are verified for one
 * signature in `LIVE_VERIFY_EVERY` (and the first): each goes to one client, which verifies it anyway,
 * and a verification costs about half a signature (EJBCA ECA-3971 made the same trade).
 */
export const LIVE_VERIFY_EVERY = 64;

export class ResponseMaker {
  private liveSignatures = 0;

  /**
   * @param afterExpiry status after expiry: every response of a CA generation whose kind keeps status
   * after expiry carries archiveCutoff (RFC 6960 §4.4.4, docs/ocsp.md "Status after expiry")
   */
  constructor(
    private readonly clock: Clock,
    readonly validity: ResponseValidity = defaultResponseValidity,
    private readonly afterExpiry?: StatusAfterExpiry,
  ) {
    if (!(validity.validityMs >= 60_000) || !(validity.provisionalValidityMs >= 1000)) throw new RangeError("OCSP validity too short");
  }

  /** @param transient the response is sent once and never stored (then its signature check is sampled) */
  async sign(entry: IssuerEntry, items: readonly ResponseItem[], nonce?: Uint8Array, transient = false): Promise<SignedResponse> {
    const now = new Date(Math.floor(this.clock.now().getTime() / 1000) * 1000);
    const validity = items.some((i) => i.provisional) ? this.validity.provisionalValidityMs : this.validity.validityMs;
    let next = now.getTime() + validity;
    // Capped at the end of status after expiry (at least one second after thisUpdate, as nextUpdate must follow it).
    for (const i of items) if (i.statusUntil !== undefined) next = Math.max(now.getTime() + 1000, Math.min(next, Math.floor(i.statusUntil.getTime() / 1000) * 1000));
    const nextUpdate = new Date(next);
    const archiveCutoff = this.afterExpiry?.archiveCutoff(entry.caId, now);
    const tbs = encodeResponseData({
      responderId: entry.responder.responderId,
      producedAt: now,
      responses: items.map((i) => ({ certId: i.certId, status: i.status, thisUpdate: now, nextUpdate, archiveCutoff })),
      nonce,
    });
    const verify = !transient || this.liveSignatures++ % LIVE_VERIFY_EVERY === 0;
    const der = await signOcspResponse(tbs, entry.responder, verify);
    return { der, thisUpdate: now, nextUpdate, producedAt: now };
  }
}
