import type { Tx } from "../stores.js";
import type { CaId, CaKind, CertificateRecord } from "../types.js";

/**
 * Phone certificates follow the card's (issue #16 item 1; docs/domain.md §3, docs/linkage.md), and the
 * one status change that goes back: lifting a phone user-auth hold.
 *
 * - `phoneCertificatesFollowing`: which of a resident's phone certificates an operator's revocation or
 *   hold of card certificates takes along (same kind; valid, or held for a revocation).
 * - `CertificateReleaseStore`: the port of the lift, `ReleasedEntrySource`: lifted certificates for delta
 *   CRLs (both adapted by db/revocation-release-store.ts).
 */

/** What the cascade needs of a certificate. */
export type CascadeCertificate = Pick<CertificateRecord, "serial" | "kind" | "device" | "status">;

/**
 * The resident's phone certificates that follow a change of card certificates of `kinds`: a revocation
 * takes valid and held ones, a hold the valid ones (a held one is held already). Pending ones belong to an
 * application in flight and are left alone, as pending card certificates are by a hold.
 */
export function phoneCertificatesFollowing<C extends CascadeCertificate>(
  change: "revoked" | "hold",
  kinds: ReadonlySet<CaKind>,
  residentCertificates: readonly C[],
): C[] {
  const from = change === "revoked" ? ["valid", "hold"] : ["valid"];
  return residentCertificates.filter((c) => c.device === "phone" && kinds.has(c.kind) && from.includes(c.status));
}

/** Who may lift a phone hold: its holder through the signed route (an actor name such as `holder:<serial>`), or the CLI. */
export const PHONE_HOLD_LIFTABLE = Object.freeze({ device: "phone", kind: "auth", status: "hold" } as const);

export interface CertificateReleaseStore {
  /**
   * hold → valid for a phone user-auth certificate (PHONE_HOLD_LIFTABLE): revocation time, reason and
   * invalidity date cleared, `status_version` raised and `released_at` set in the same statement
   * (migration 0028). @returns false when the row is not such a held certificate
   */
  release(serial: string, at: Date, tx: Tx): Promise<boolean>;
}

/** Which lifted certificates a delta CRL lists with removeFromCRL (crl/released-entries.ts). */
export interface ReleasedEntryQuery {
  readonly caId: CaId;
  readonly partition: number;
  /** Only lifts after this instant (DB time, compared with the row's `updated_at`: the delta's base read time minus its margin). */
  readonly releasedAfter: Date;
  /** Only certificates with notAfter at or after this instant (as the revoked entries). */
  readonly notAfterFloor: Date;
  /** Keyset paging: serials after this one. */
  readonly afterSerial: string | null;
  readonly limit: number;
}

/** A certificate lifted from hold and valid now. */
export interface ReleasedEntry {
  readonly serial: string;
  readonly releasedAt: Date;
}

export interface ReleasedEntrySource {
  /** Certificates of the partition valid again after a lift since `releasedAfter`, in serial order. */
  releasedEntries(query: ReleasedEntryQuery): Promise<ReleasedEntry[]>;
}
