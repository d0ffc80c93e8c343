import type { Clock } from "../ca/ports.js";
import { liftedSince, removedFromCrlSerials } from "./released-entries.js";
import type { ReleasedEntrySource } from "../ca/revocation/phone-cascade.js";
import type { StatusAfterExpiry } from "../ca/revocation/status-after-expiry.js";
import type { CaId } from "../ca/types.js";
import { noCrlMetrics, type CoverageCounts, type CrlMetrics } from "./crl-metrics.js";
import type { CrlKind, CrlStore, PublishedCrl, RevokedEntrySource, SerialLookup } from "../ca/revocation/crl-ports.js";
import { crlEntrySerials } from "./crl-reader.js";
import { revokedEntryPages } from "./revoked-entry-pages.js";

/**
 * The coverage check (issue 6 §7; Boulder's cmd/crl-checker: "every unexpired revoked serial
 * appears in exactly one shard"): for every partition of every CA generation,
 *
 * - every revoked or held, unexpired certificate whose row changed before the partition's latest CRL
 *   was read is listed in the current full CRL or in the delta CRL built on it (else `missing`);
 * - every listed serial belongs to that CA and partition (else `misplaced`: it would then be in two
 *   partitions' scope, or in the wrong one) and is revoked or held (else `unlisted`);
 * - every partition has a full CRL (`absent`) and no current CRL is past its nextUpdate (`stale`).
 *
 * Certificates revoked after the latest CRL was read are `pending`, not violations. Memory: one
 * partition's serials at a time.
 *
 * "Unexpired" here means "still given status": with status after expiry (docs/crl.md), a revoked
 * certificate past notAfter but before its status cutoff must be listed too, as the issuer lists it
 * (the floor only moves forward, so what is required now was required when the CRL was built).
 */

export type CoverageProblemKind = "missing" | "misplaced" | "unlisted" | "stale" | "absent";

export interface CoverageProblem {
  readonly kind: CoverageProblemKind;
  readonly caId: CaId;
  readonly partition: number;
  /** The certificate serial (never personal data), for missing / misplaced / unlisted. */
  readonly serial?: string;
  /** For stale: which CRL. */
  readonly crl?: CrlKind;
}

export interface CoverageReport extends CoverageCounts {
  readonly ok: boolean;
  readonly checkedAt: Date;
  readonly partitions: number;
  /** Revoked unexpired certificates compared. */
  readonly revoked: number;
  /** Entries read from the current CRLs. */
  readonly listed: number;
  /** The first problems found (at most `maxProblems`). */
  readonly problems: readonly CoverageProblem[];
}

export interface CoverageDeps {
  readonly store: Pick<CrlStore, "publishedDer">;
  readonly entries: RevokedEntrySource;
  readonly lookup: SerialLookup;
  readonly clock: Clock;
  readonly pageSize?: number;
  readonly metrics?: CrlMetrics;
  /** Status after expiry: the same policy the issuer uses (crl/crl-issuer.ts). */
  readonly afterExpiry?: StatusAfterExpiry;
  /** Lifted phone holds: one lifted after the newest CRL was read is `pending` until the next delta. */
  readonly released?: ReleasedEntrySource;
}

export interface CoverageScope {
  readonly caId: CaId;
  readonly partitionCount: number;
}

export async function checkCoverage(deps: CoverageDeps, scope: readonly CoverageScope[], options: { maxProblems?: number } = {}): Promise<CoverageReport> {
  const now = deps.clock.now();
  const pageSize = deps.pageSize ?? 10_000;
  const maxProblems = options.maxProblems ?? 100;
  const counts = { missing: 0, misplaced: 0, unlisted: 0, stale: 0, absent: 0, pending: 0 };
  const problems: CoverageProblem[] = [];
  const problem = (p: CoverageProblem): void => {
    counts[p.kind]++;
    if (problems.length < maxProblems) problems.push(p);
  };
  let revoked = 0;
  let listedTotal = 0;
  let partitions = 0;

  for (const { caId, partitionCount } of scope) {
    for (let partition = 0; partition < partitionCount; partition++) {
      partitions++;
      const ref = { caId, partition };
      const full = await deps.store.publishedDer(ref, "full");
      const deltaCrl = await deps.store.publishedDer(ref, "delta");
      // A delta counts only with the full CRL it updates (RFC 5280 §5.2.4).
      const delta = full && deltaCrl && deltaCrl.info.baseNumber === full.info.number ? deltaCrl : undefined;
      for (const crl of [full, deltaCrl]) {
        if (crl && crl.info.nextUpdate.getTime() <= now.getTime()) problem({ kind: "stale", caId, partition, crl: crl.info.kind });
      }
      if (!full) problem({ kind: "absent", caId, partition });

      const listed = new Set<string>();
      for (const crl of [full, delta] as Array<PublishedCrl | undefined>) {
        if (!crl) continue;
        // A delta's removeFromCRL entries (lifted phone holds, crl/released-entries.ts) are no revocations.
        const removed = crl === delta ? removedFromCrlSerials(crl.der) : undefined;
        for (const serial of crlEntrySerials(crl.der)) {
          if (removed?.has(serial)) {
            listed.delete(serial);
            continue;
          }
          listed.add(serial);
          listedTotal++;
        }
      }
      // Rows changed after the newest CRL was read may legitimately be missing from it.
      const cutoff = [full, delta].reduce<Date | undefined>((t, c) => (c && (!t || c.info.asOf > t) ? c.info.asOf : t), undefined);
      const base = { caId, partition, notAfterFloor: deps.afterExpiry?.floor(caId, now) ?? now };
      for await (const page of revokedEntryPages(deps.entries, cutoff ? { ...base, changedAtOrBefore: cutoff } : base, pageSize)) {
        for (const e of page) {
          revoked++;
          if (!listed.delete(e.serial)) problem({ kind: "missing", caId, partition, serial: e.serial });
        }
      }
      if (cutoff) {
        for await (const page of revokedEntryPages(deps.entries, { ...base, changedAfter: cutoff }, pageSize)) {
          for (const e of page) if (!listed.delete(e.serial)) counts.pending++;
        }
      }
      // What is left is listed without being a revoked unexpired row of this partition changed before
      // the cut-off: fine when expired (look-back) or changed since; a violation otherwise.
      const rest = [...listed];
      const lifted = rest.length > 0 && cutoff && deps.released ? await liftedSince(deps.released, { ...base, releasedAfter: cutoff }) : new Set<string>();
      for (let i = 0; i < rest.length; i += 1000) {
        const batch = rest.slice(i, i + 1000);
        const found = new Map((await deps.lookup.serialStatuses(batch)).map((s) => [s.serial, s]));
        for (const serial of batch) {
          const s = found.get(serial);
          if (s?.status === "valid" && lifted.has(serial)) counts.pending++;
          else if (s === undefined || (s.status !== "revoked" && s.status !== "hold")) problem({ kind: "unlisted", caId, partition, serial });
          else if (s.caId !== caId || s.partition !== partition) problem({ kind: "misplaced", caId, partition, serial });
        }
      }
    }
  }
  const report: CoverageReport = {
    ...counts,
    ok: counts.missing + counts.misplaced + counts.unlisted + counts.stale + counts.absent === 0,
    checkedAt: now,
    partitions,
    revoked,
    listed: listedTotal,
    problems,
  };
  (deps.metrics ?? noCrlMetrics).setCoverage(counts);
  return report;
}
