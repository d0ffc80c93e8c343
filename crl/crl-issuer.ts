import type { Clock } from "../ca/ports.js";
import type { StatusAfterExpiry } from "../ca/revocation/status-after-expiry.js";
import type { CaId } from "../ca/types.js";
import { truncateToSecond } from "../ca/x509/time.js";
import { buildCrl, type CrlFrame } from "./crl-builder.js";
import type { CrlAuthority } from "./crl-authority.js";
import { noCrlMetrics, type CrlMetrics } from "./crl-metrics.js";
import type { CrlLease, CrlStore, PublishedCrlInfo, RevokedEntrySource } from "../ca/revocation/crl-ports.js";
import type { CrlSettings } from "./crl-settings.js";
import { revokedEntryPages } from "./revoked-entry-pages.js";
import { releasedEntryPages, withReleasedEntries } from "./released-entries.js";
import type { ReleasedEntrySource } from "../ca/revocation/phone-cascade.js";

export interface CrlIssuerDeps {
  readonly store: Pick<CrlStore, "nextNumber" | "publish" | "published">;
  readonly entries: RevokedEntrySource;
  readonly clock: Clock;
  readonly settings: Pick<CrlSettings, "validitySeconds" | "deltaValiditySeconds" | "expiredLookbackSeconds" | "deltaMarginSeconds" | "pageSize">;
  readonly metrics?: CrlMetrics;
  /**
   * Status after expiry (docs/crl.md "Status after expiry"): revoked certificates of a kind that keeps
   * it stay listed until their status cutoff, and the CRL says so with expiredCertsOnCRL.
   */
  readonly afterExpiry?: StatusAfterExpiry;
  /** Lifted phone holds: listed on delta CRLs with removeFromCRL (crl/released-entries.ts); absent: none. */
  readonly released?: ReleasedEntrySource;
}

/** What one partition run published. */
export interface IssuedPartition {
  readonly full: PublishedCrlInfo | null;
  readonly delta: PublishedCrlInfo | null;
}

/**
 * Builds, signs and publishes the CRLs of one partition under a lease the caller holds:
 *
 * - **full**: every revoked or held certificate of the partition whose notAfter is within the look-back
 *   or whose status after expiry has not ended (the earlier of the two floors), with cRLNumber, critical
 *   IDP, freshestCRL → the partition's delta URL, and expiredCertsOnCRL = that floor when the kind keeps
 *   status after expiry.
 * - **delta** (RFC 5280 §5.2.4): the entries whose row changed since the current full CRL was read
 *   (minus `deltaMarginSeconds`) and that are still revoked, with deltaCRLIndicator = that full CRL's
 *   number and the same IDP. Listing an entry the base already has is harmless; missing one is not.
 *
 * Each CRL takes the next number of the partition from the store before it is built, so numbers never
 * repeat even when a run dies half way (a gap is allowed: §5.2.3 asks for increasing, not contiguous).
 */
export class CrlIssuer {
  private readonly metrics: CrlMetrics;

  constructor(private readonly deps: CrlIssuerDeps) {
    this.metrics = deps.metrics ?? noCrlMetrics;
  }

  /**
   * Issues a full CRL when `full` (or when the partition has none yet), then a delta when `delta` or
   * when a full CRL was issued (the published delta must always refer to the current full CRL).
   */
  async issue(authority: CrlAuthority, lease: CrlLease, what: { full: boolean; delta: boolean }): Promise<IssuedPartition> {
    let base = what.full ? undefined : await this.deps.store.published(lease, "full");
    let full: PublishedCrlInfo | null = null;
    if (base === undefined) {
      full = await this.issueFull(authority, lease);
      base = full;
    }
    const delta = full !== null || what.delta ? await this.issueDelta(authority, lease, base) : null;
    return { full, delta };
  }

  private async issueFull(authority: CrlAuthority, lease: CrlLease): Promise<PublishedCrlInfo> {
    const { settings } = this.deps;
    const started = performance.now();
    const number = await this.deps.store.nextNumber(lease);
    const thisUpdate = truncateToSecond(this.deps.clock.now());
    const frame: CrlFrame = {
      ...this.frameBase(authority, lease.partition, thisUpdate, settings.validitySeconds, number),
      freshestCrl: authority.deltaUrl(lease.partition),
      ...this.expiredCertsOnCrl(lease.caId, thisUpdate),
    };
    const pages = revokedEntryPages(this.deps.entries, { caId: lease.caId, partition: lease.partition, notAfterFloor: this.notAfterFloor(thisUpdate, lease.caId) }, settings.pageSize);
    return this.buildAndPublish(authority, lease, "full", frame, pages, { number, baseNumber: null }, started);
  }

  private async issueDelta(authority: CrlAuthority, lease: CrlLease, base: PublishedCrlInfo): Promise<PublishedCrlInfo> {
    const { settings } = this.deps;
    const started = performance.now();
    const number = await this.deps.store.nextNumber(lease);
    const thisUpdate = truncateToSecond(this.deps.clock.now());
    const frame: CrlFrame = {
      ...this.frameBase(authority, lease.partition, thisUpdate, settings.deltaValiditySeconds, number),
      deltaBaseNumber: base.number,
      ...this.expiredCertsOnCrl(lease.caId, thisUpdate),
    };
    const changedAfter = new Date(base.asOf.getTime() - settings.deltaMarginSeconds * 1000);
    const revoked = revokedEntryPages(
      this.deps.entries,
      { caId: lease.caId, partition: lease.partition, notAfterFloor: this.notAfterFloor(thisUpdate, lease.caId), changedAfter },
      settings.pageSize,
    );
    const released =
      this.deps.released &&
      releasedEntryPages(this.deps.released, { caId: lease.caId, partition: lease.partition, releasedAfter: changedAfter, notAfterFloor: this.notAfterFloor(thisUpdate, lease.caId) }, settings.pageSize);
    const pages = withReleasedEntries(revoked, released);
    return this.buildAndPublish(authority, lease, "delta", frame, pages, { number, baseNumber: base.number }, started);
  }

  /** Builds and signs the CRL of `frame` from `pages`, publishes it under the lease, and records the time taken. */
  private async buildAndPublish(
    authority: CrlAuthority,
    lease: CrlLease,
    kind: "full" | "delta",
    frame: CrlFrame,
    pages: Parameters<typeof buildCrl>[2],
    numbers: { readonly number: number; readonly baseNumber: number | null },
    started: number,
  ): Promise<PublishedCrlInfo> {
    const built = await buildCrl(frame, authority.signer, pages, { issuerPublicKey: authority.issuerPublicKey });
    const info = await this.deps.store.publish(lease, {
      kind,
      number: numbers.number,
      baseNumber: numbers.baseNumber,
      thisUpdate: frame.thisUpdate,
      nextUpdate: frame.nextUpdate,
      asOf: lease.asOf,
      entries: built.entries,
      der: built.der,
    });
    this.metrics.observeIssued(lease.caId, kind, built.entries, (performance.now() - started) / 1000);
    return info;
  }

  private frameBase(authority: CrlAuthority, partition: number, thisUpdate: Date, validitySeconds: number, number: number) {
    return {
      issuer: authority.issuerName,
      authorityKeyId: authority.keyIdentifier,
      thisUpdate,
      nextUpdate: new Date(thisUpdate.getTime() + validitySeconds * 1000),
      crlNumber: number,
      distributionPoint: authority.fullUrl(partition),
    };
  }

  /**
   * RFC 5280 §3.3: entries may go once the certificate expired; we keep them for the look-back, and for
   * the status after expiry of the CA's kind when that reaches further back (docs/crl.md).
   */
  private notAfterFloor(thisUpdate: Date, caId: CaId): Date {
    const lookback = thisUpdate.getTime() - this.deps.settings.expiredLookbackSeconds * 1000;
    const status = this.deps.afterExpiry?.floor(caId, thisUpdate);
    return new Date(status === undefined ? lookback : Math.min(lookback, status.getTime()));
  }

  /** expiredCertsOnCRL (X.509 2.5.29.60) = the floor, when the kind keeps status after expiry. */
  private expiredCertsOnCrl(caId: CaId, thisUpdate: Date): { expiredCertsOnCrl?: Date } {
    return this.deps.afterExpiry?.enabled(caId) ? { expiredCertsOnCrl: this.notAfterFloor(thisUpdate, caId) } : {};
  }
}
