import type { Tx } from "../stores.js";
import type { CaId } from "../types.js";

/**
 * Ports of the CRL worker (crl/), declared in the core so that db/ can implement them (docs/design.md §1:
 * db/ imports ca/ only). Adapter: db/crl-store.ts (PostgreSQL and PGlite). Times written `(DB time)` come from the database clock, so that
 * several nodes compare them with the certificates' `updated_at` without trusting each other's clocks.
 */

export type CrlKind = "full" | "delta";

/**
 * One revoked (or held) certificate as it goes into a CRL (crl/revoked-entry-der.ts encodes it).
 */
export interface RevokedEntry {
  /** Lower-case hex of the serial INTEGER's content octets (ca/issuance/serial.ts form: minimal, positive, ≤ 20 octets). */
  readonly serial: string;
  /** revocationDate, in whole seconds since the epoch (UTC). */
  readonly revokedAt: number;
  /** RFC 5280 §5.3.1 CRLReason 0–6; 0 (unspecified) writes no reasonCode; holds are 6 (certificateHold). */
  readonly reasonCode: number;
  /** invalidityDate in whole seconds since the epoch, or null when unknown. */
  readonly invalidityDate: number | null;
}

/** One partition of one CA generation. */
export interface PartitionRef {
  readonly caId: CaId;
  readonly partition: number;
}

/** Which revoked entries of a partition to read (always status revoked or hold). */
export interface RevokedEntryQuery extends PartitionRef {
  /** Only certificates with notAfter at or after this instant (the expired-entry look-back). */
  readonly notAfterFloor: Date;
  /** Delta CRLs: only entries whose certificate row changed after this instant (DB time). */
  readonly changedAfter?: Date;
  /** Coverage check: only entries whose row changed at or before this instant (DB time). */
  readonly changedAtOrBefore?: Date;
  /** Keyset paging: serials after this one in the store's serial order. */
  readonly afterSerial?: string | null;
  readonly limit: number;
}

/** Revoked entries of a partition in serial order (`buildCrl` needs only this). */
export interface RevokedEntrySource {
  revokedEntries(query: RevokedEntryQuery): Promise<RevokedEntry[]>;
}

/** What the coverage check needs to know about a serial found in a CRL but not among the partition's revoked rows. */
export interface SerialStatus {
  readonly serial: string;
  readonly caId: CaId;
  readonly partition: number;
  readonly status: string;
  readonly notAfter: Date;
}

export interface SerialLookup {
  /** The rows of these serials (unknown serials are left out). */
  serialStatuses(serials: readonly string[]): Promise<SerialStatus[]>;
}

/** What a CRL says about itself, published or about to be. */
export interface CrlFacts {
  readonly kind: CrlKind;
  readonly number: number;
  /** Delta CRLs: the number of the full CRL they update. */
  readonly baseNumber: number | null;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /** When the entries were read (DB time, taken before the first page): the delta cut-off of a base. */
  readonly asOf: Date;
  readonly entries: number;
}

/** A published CRL without its DER. */
export interface PublishedCrlInfo extends PartitionRef, CrlFacts {
  /** Strong HTTP entity tag, quoted. */
  readonly etag: string;
  readonly size: number;
  readonly publishedAt: Date;
}

export interface PublishedCrl {
  readonly info: PublishedCrlInfo;
  readonly der: Uint8Array;
}

/** The scheduler's view of a partition. */
export interface CrlPartitionState extends PartitionRef {
  /** Last CRL number handed out (full and delta share it: RFC 5280 §5.2.3). */
  readonly lastNumber: number;
  /** Latest unpublished revocation seen in the outbox (DB time), or null. */
  readonly changedAt: Date | null;
  readonly full: PublishedCrlInfo | null;
  readonly delta: PublishedCrlInfo | null;
  /** Until when another worker holds the lease (DB time), or null. */
  readonly leaseExpiresAt: Date | null;
}

/** A held lease on one partition: only its holder may take numbers and publish. */
export interface CrlLease extends PartitionRef {
  readonly owner: string;
  readonly token: string;
  /** DB time when the lease was taken: every change committed before it is visible to the reads that follow. */
  readonly asOf: Date;
}

/** A CRL ready to be published under a lease. */
export interface NewCrl extends CrlFacts {
  readonly der: Uint8Array;
}

/**
 * CRL numbers, leases and publication. Numbers come from one counter per partition, incremented in the
 * database, so two workers can never get the same number; publication refuses a number that does not
 * increase and a lease that was lost, and switches the visible CRL in one transaction.
 */
export interface CrlStore {
  /** Creates the state rows of partitions 0..count-1; CaError("conflict") when rows beyond `count` exist. */
  ensurePartitions(caId: CaId, count: number): Promise<void>;
  /** State of every partition (of one CA), ordered by CA and partition. */
  states(caId?: CaId): Promise<CrlPartitionState[]>;
  state(ref: PartitionRef): Promise<CrlPartitionState | undefined>;
  /** Takes the lease when nobody holds it (or the holder's expired); undefined when busy. */
  tryLease(ref: PartitionRef, owner: string, ttlSeconds: number): Promise<CrlLease | undefined>;
  /** The next CRL number of the partition. CaError("conflict") when the lease was lost. */
  nextNumber(lease: CrlLease): Promise<number>;
  /**
   * Makes `crl` the current CRL of its kind, atomically. CaError("conflict") when the lease was lost,
   * the number does not exceed the published one, or a delta's base is not the current full CRL.
   * Clears `changedAt` when no change was seen after `crl.asOf`.
   */
  publish(lease: CrlLease, crl: NewCrl): Promise<PublishedCrlInfo>;
  release(lease: CrlLease): Promise<void>;
  /** The current CRL of a kind, without DER. */
  published(ref: PartitionRef, kind: CrlKind): Promise<PublishedCrlInfo | undefined>;
  /** The current CRL of a kind with its DER. */
  publishedDer(ref: PartitionRef, kind: CrlKind): Promise<PublishedCrl | undefined>;
  /** Records that partitions changed (from the outbox); in `tx` with the cursor advance. */
  markChanged(refs: readonly PartitionRef[], tx?: Tx): Promise<void>;
}

/** A CRL read by a registered relying party (docs/api.md §3: every answered request is recorded). */
export interface CrlAccessRecord {
  readonly at: Date;
  readonly party: string;
  readonly caId: CaId;
  readonly partition: number;
  readonly kind: CrlKind;
  /** The CRL number served (or confirmed by a 304). */
  readonly number: number;
}

/** Where CRL reads are written (db/crl-access-log.ts), in batches through ocsp/access-recorder.ts. */
export interface CrlAccessLog {
  /** Appends many records in one statement. */
  append(records: readonly CrlAccessRecord[]): Promise<void>;
}
