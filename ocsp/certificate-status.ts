import type { CaId } from "../ca/types.js";
import type { StatusAfterExpiry } from "../ca/revocation/status-after-expiry.js";
import type { SingleStatus } from "./ocsp-response.js";
import type { CertificateStatusSnapshot, StatusRank, StoredOcspResponse } from "../ca/revocation/ocsp-ports.js";

/**
 * From a certificate row to what OCSP says about it, for the CA generation the CertID named.
 *
 * | row                                   | answer                                      | stored | rank |
 * |---------------------------------------|---------------------------------------------|--------|------|
 * | none, another generation's, `failed`  | non-issued: revoked/certificateHold, 1970   | no     | 0    |
 * | `pending` (reserved, maybe signed)    | unknown, short validity                     | no     | 0    |
 * | `valid`                               | good                                        | yes    | 1    |
 * | `hold`                                | revoked, certificateHold (RFC 6960 §2.2)    | yes    | 2    |
 * | `revoked`                             | revoked, time and reason                    | yes    | 3    |
 *
 * Never `good` for a serial this generation did not issue (docs/domain.md §4). A `failed` row is a serial
 * whose signature was never confirmed: answering "not issued" is the safe side. A `pending` row may
 * already be signed (docs/design.md invariant 1), so "not issued" would be a lie and "good" premature:
 * `unknown` for a minute, until the reconciler settles it.
 *
 * Status after expiry (docs/ocsp.md "Status after expiry"): with `expiry`, a certificate of a kind that
 * keeps status after expiry is answered as recorded until its status cutoff (the decision carries
 * `statusUntil`, which caps nextUpdate), and `unknown` from then on — RFC 6960 §4.4.4: the responder no
 * longer retains its status, §2.2: "unknown" is the state for a certificate the responder does not know
 * about; not `revoked` (the extended revoked definition is for never-issued serials, and a certificate
 * that expired good was never revoked). That answer is not stored and keeps the rank of the recorded
 * status (so it replaces an older cached answer of the same certificate).
 */
export interface OcspDecision {
  readonly status: SingleStatus;
  readonly rank: StatusRank;
  /** Whether the response is kept in the database (issued certificates only: the serial space is unbounded). */
  readonly storable: boolean;
  /** Whether the response gets the short validity (a state about to change). */
  readonly provisional: boolean;
  /** The end of status after expiry, when the kind keeps it: nextUpdate is capped there. */
  readonly statusUntil?: Date;
}

/** What `decide` needs to apply status after expiry: the policy and the time of the answer. */
export interface ExpiryContext {
  readonly afterExpiry: StatusAfterExpiry;
  readonly now: Date;
}

const NON_ISSUED: OcspDecision = { status: { kind: "non-issued" }, rank: 0, storable: false, provisional: false };
const PENDING: OcspDecision = { status: { kind: "unknown" }, rank: 0, storable: false, provisional: true };
const GOOD: OcspDecision = { status: { kind: "good" }, rank: 1, storable: true, provisional: false };

export function decide(snapshot: CertificateStatusSnapshot | undefined, caId: CaId, expiry?: ExpiryContext): OcspDecision {
  const recorded = decideRecorded(snapshot, caId);
  if (expiry === undefined || snapshot === undefined || recorded.rank === 0) return recorded;
  const statusUntil = expiry.afterExpiry.until(caId, snapshot.notAfter);
  if (statusUntil === undefined) return recorded;
  if (expiry.afterExpiry.pastCutoff(caId, snapshot.notAfter, expiry.now)) return { status: { kind: "unknown" }, rank: recorded.rank, storable: false, provisional: false };
  return { ...recorded, statusUntil };
}

function decideRecorded(snapshot: CertificateStatusSnapshot | undefined, caId: CaId): OcspDecision {
  if (snapshot === undefined || snapshot.caId !== caId) return NON_ISSUED;
  switch (snapshot.status) {
    case "failed":
      return NON_ISSUED;
    case "pending":
      return PENDING;
    case "valid":
      return GOOD;
    case "hold":
      return {
        status: { kind: "revoked", revokedAt: snapshot.revokedAt ?? new Date(0), reason: "certificateHold" },
        rank: 2,
        storable: true,
        provisional: false,
      };
    case "revoked":
      return {
        status: { kind: "revoked", revokedAt: snapshot.revokedAt ?? new Date(0), reason: snapshot.reason },
        rank: 3,
        storable: true,
        provisional: false,
      };
  }
}

/** The serial as stored in `certificates` (ca/issuance/serial.ts: 1–20 content octets, positive, minimal), or undefined. */
export function storedSerialForm(serialHex: string): string | undefined {
  if (!/^(?:[0-9a-f]{2}){1,20}$/.test(serialHex)) return undefined;
  const first = parseInt(serialHex.slice(0, 2), 16);
  if (first >= 0x80) return undefined; // negative INTEGER
  if (first === 0 && (serialHex.length === 2 || parseInt(serialHex.slice(2, 4), 16) < 0x80)) return undefined; // zero or non-minimal
  return serialHex;
}

/** The SingleStatus a stored (or cached) response carries, rebuilt from its columns. */
export function statusOfStored(r: Pick<StoredOcspResponse, "certStatus" | "rank" | "revokedAt" | "reason">): { status: SingleStatus; provisional: boolean } {
  switch (r.certStatus) {
    case "good":
      return { status: { kind: "good" }, provisional: false };
    case "unknown":
      return { status: { kind: "unknown" }, provisional: true };
    case "revoked":
      return r.rank === 0
        ? { status: { kind: "non-issued" }, provisional: false }
        : { status: { kind: "revoked", revokedAt: r.revokedAt ?? new Date(0), reason: r.reason }, provisional: false };
  }
}
