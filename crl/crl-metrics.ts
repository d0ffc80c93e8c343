import type { CaId } from "../ca/types.js";
import type { CrlKind } from "../ca/revocation/crl-ports.js";

/**
 * What the CRL worker reports to monitoring. api/metrics.ts implements it with prom-client gauges and
 * histograms; `noCrlMetrics` when nobody listens.
 */
export interface CrlMetrics {
  /** A CRL was published: build + sign + publish time and entry count. */
  observeIssued(caId: CaId, kind: CrlKind, entries: number, seconds: number): void;
  /** A partition run failed (HSM, database); `stage` says where. */
  incFailure(stage: string): void;
  /** Result of a coverage check (crl/coverage-check.ts): violations by kind; 0 everywhere is healthy. */
  setCoverage(counts: CoverageCounts): void;
}

/** Violation counts of the last coverage check. */
export interface CoverageCounts {
  /** Revoked unexpired certificates in no current CRL of their partition. */
  readonly missing: number;
  /** CRL entries of a certificate that belongs to another partition or CA. */
  readonly misplaced: number;
  /** CRL entries of a certificate that is not revoked (or unknown). */
  readonly unlisted: number;
  /** Published CRLs past their nextUpdate. */
  readonly stale: number;
  /** Partitions with no full CRL. */
  readonly absent: number;
  /** Revoked certificates newer than the latest CRL of their partition (waiting, not a violation). */
  readonly pending: number;
}

export const noCrlMetrics: CrlMetrics = Object.freeze({
  observeIssued: () => {},
  incFailure: () => {},
  setCoverage: () => {},
});
