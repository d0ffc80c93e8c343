import type { Clock } from "../ca/ports.js";
import { encodeCertId, type CertIdHash } from "./cert-id.js";
import { decide, storedSerialForm } from "./certificate-status.js";
import type { OcspMetrics } from "./ocsp-metrics.js";
import { certStatusName } from "./ocsp-response.js";
import type { CertificateStatusSnapshot, CertificateStatusSource, OcspResponseStore, StoredOcspResponse } from "../ca/revocation/ocsp-ports.js";
import type { DemandRecorder } from "./demand-recorder.js";
import type { IssuerEntry, OcspResponders } from "./responders.js";
import { cacheKey, toCachedResponse, type CachedResponse, type ResponseCache } from "./response-cache.js";
import type { ResponseMaker } from "./response-maker.js";

/**
 * Stored responses, signed on demand (docs/ocsp.md "Demand-driven responses"): one per certificate
 * and CertID hash that a relying party asked about, kept in the database (shared by every responder
 * process) and in a bounded memory cache.
 *
 * - `lookup`: memory, then database; only responses before their nextUpdate. A hit is noted for the
 *   demand recorder (what is asked gets refreshed; what is not is dropped).
 * - `make`: signs the current status of one (generation, hash, serial), stores it when it is about an
 *   issued certificate, caches it. Concurrent first requests of one key share one signature.
 * - `resign`: the outbox consumer (status changes of stored responses) and the half-life refresher.
 *
 * Why a first request re-reads the status after storing: a revocation committed between its status
 * read and its store could reach the outbox consumer before the row exists, and the consumer re-signs
 * only stored responses. Re-reading after the store closes that gap: either the re-read sees the
 * revocation (and signs it here), or the revocation committed after the row, and the consumer sees it.
 */
export type SigningPurpose = "first-request" | "status-change" | "refresh";
/** Runs a signature, e.g. through the live SigningGate. */
export type SignRunner = <T>(work: () => Promise<T>) => Promise<T>;

const direct: SignRunner = (work) => work();

export class PresignedResponses {
  private readonly inflight = new Map<string, Promise<CachedResponse>>();

  constructor(
    private readonly deps: {
      readonly responders: Pick<OcspResponders, "get">;
      readonly cache: ResponseCache;
      readonly store: OcspResponseStore;
      readonly statuses: CertificateStatusSource;
      readonly maker: ResponseMaker;
      readonly clock: Clock;
      readonly metrics: OcspMetrics;
      readonly demand?: Pick<DemandRecorder, "note">;
    },
  ) {}

  /** A response still before its nextUpdate, from memory or the database; undefined otherwise. */
  async lookup(entry: IssuerEntry, hash: CertIdHash, serialHex: string): Promise<CachedResponse | undefined> {
    const key = cacheKey(entry.caId, hash, serialHex);
    const now = this.deps.clock.now().getTime();
    const hit = this.deps.cache.get(key);
    if (hit !== undefined && hit.nextUpdate.getTime() > now) {
      this.deps.demand?.note(hit, now);
      return hit;
    }
    const serial = storedSerialForm(serialHex);
    if (serial === undefined) return undefined;
    const version = this.deps.cache.version;
    const row = await this.deps.store.get(serial, hash);
    if (row === undefined || row.caId !== entry.caId || row.nextUpdate.getTime() <= now) return undefined;
    const cached = toCachedResponse(row);
    this.deps.cache.setIfUnchangedSince(cached, version);
    this.deps.demand?.note(cached, now);
    return cached;
  }

  /** Notes a request answered with `r` by the caller itself (the HTTP layer's repeat path). */
  noteRequested(r: CachedResponse, nowMs = this.deps.clock.now().getTime()): void {
    this.deps.demand?.note(r, nowMs);
  }

  /**
   * True when memory holds exactly `r` for its key (no newer response replaced it) and it is before its
   * nextUpdate. `nowMs`: the caller's reading of the clock, when it has one.
   */
  isCurrent(r: CachedResponse, nowMs = this.deps.clock.now().getTime()): boolean {
    return this.deps.cache.get(r.key) === r && r.nextUpdate.getTime() > nowMs;
  }

  /**
   * What a fresh response in memory says about a serial (either hash), without the database: the
   * status a live answer (nonce, several CertIDs) gives. Kept as current as the pre-signed responses
   * themselves (outbox and follower).
   */
  peekStatus(entry: IssuerEntry, serialHex: string): Pick<CachedResponse, "status" | "provisional"> | undefined {
    const now = this.deps.clock.now().getTime();
    for (const hash of ["sha1", "sha256"] as const) {
      const hit = this.deps.cache.get(cacheKey(entry.caId, hash, serialHex));
      if (hit !== undefined && hit.nextUpdate.getTime() > now) return hit;
    }
    return undefined;
  }

  /**
   * Signs the current answer for one key and keeps it. `snapshot`: the certificate row when the caller
   * already read it (null: known absent); read here otherwise.
   */
  make(
    entry: IssuerEntry,
    hash: CertIdHash,
    serialHex: string,
    purpose: SigningPurpose,
    options: { snapshot?: CertificateStatusSnapshot | null; run?: SignRunner } = {},
  ): Promise<CachedResponse> {
    const key = cacheKey(entry.caId, hash, serialHex);
    // Coalesce first requests only: a status change must sign after the change, not join a signature of the old state.
    if (purpose === "first-request") {
      const running = this.inflight.get(key);
      if (running) return running;
    }
    const p = this.makeNow(entry, hash, serialHex, purpose, options).finally(() => {
      if (this.inflight.get(key) === p) this.inflight.delete(key);
    });
    if (purpose === "first-request") this.inflight.set(key, p);
    return p;
  }

  /**
   * Re-signs serials: every hash variant in `hashes` (default: those stored, plus SHA-1). Serials
   * with no certificate row or of a generation without a responder are skipped. The outbox consumer
   * passes only the stored fresh variants: a certificate nobody asked about costs no signature.
   * @returns responses signed
   */
  async resign(
    targets: ReadonlyArray<{ serial: string; hashes?: readonly CertIdHash[] }>,
    purpose: Exclude<SigningPurpose, "first-request">,
    concurrency = 2,
  ): Promise<number> {
    if (targets.length === 0) return 0;
    const serials = [...new Set(targets.map((t) => t.serial))];
    const [snapshots, stored] = await Promise.all([
      this.deps.statuses.statuses(serials),
      targets.some((t) => t.hashes === undefined) ? this.deps.store.hashesOf(serials) : Promise.resolve(new Map<string, CertIdHash[]>()),
    ]);
    const jobs: Array<() => Promise<unknown>> = [];
    for (const t of targets) {
      const snapshot = snapshots.get(t.serial);
      const entry = snapshot && this.deps.responders.get(snapshot.caId);
      if (!snapshot || !entry) continue;
      const hashes = new Set<CertIdHash>(t.hashes ?? ["sha1", ...(stored.get(t.serial) ?? [])]);
      for (const h of hashes) jobs.push(() => this.make(entry, h, t.serial, purpose, { snapshot }));
    }
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < jobs.length) await jobs[next++]!();
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, lane));
    return jobs.length;
  }

  private async makeNow(
    entry: IssuerEntry,
    hash: CertIdHash,
    serialHex: string,
    purpose: SigningPurpose,
    options: { snapshot?: CertificateStatusSnapshot | null; run?: SignRunner },
  ): Promise<CachedResponse> {
    const { cache, store, statuses, maker, metrics } = this.deps;
    const version = cache.version;
    const serial = storedSerialForm(serialHex);
    let snapshot = options.snapshot ?? undefined;
    if (options.snapshot === undefined && serial !== undefined) snapshot = (await statuses.statuses([serial])).get(serial);
    const decision = decide(snapshot, entry.caId);
    const hashes = entry.issuerHashes[hash];
    const certId = encodeCertId(hash, hashes.name, hashes.key, serialHex);
    const signed = await (options.run ?? direct)(() => maker.sign(entry, [{ certId, status: decision.status, provisional: decision.provisional }]));
    metrics.countSignature(purpose);
    const response: StoredOcspResponse = {
      serial: serialHex,
      hash,
      caId: entry.caId,
      der: signed.der,
      certStatus: certStatusName(decision.status),
      rank: decision.rank,
      revokedAt: decision.status.kind === "revoked" ? decision.status.revokedAt : null,
      reason: decision.status.kind === "revoked" ? decision.status.reason : null,
      thisUpdate: signed.thisUpdate,
      nextUpdate: signed.nextUpdate,
      producedAt: signed.producedAt,
      // A first request is a request: the response starts its window now.
      lastRequestedAt: purpose === "first-request" ? signed.thisUpdate : null,
    };
    const cached = toCachedResponse(response);
    if (!decision.storable || serial === undefined) {
      cache.setIfUnchangedSince(cached, version);
      return cached;
    }
    if (await store.put(response)) {
      if (purpose === "first-request") {
        const newer = await this.changedSinceSigned(serial, decision.rank, entry, hash);
        if (newer !== undefined) return this.makeNow(entry, hash, serialHex, "status-change", { snapshot: newer, ...(options.run ? { run: options.run } : {}) });
      }
      cache.noteChange(cached.key);
      // A refresh must not fill the cache with every certificate; a status change or a request should be there.
      if (purpose === "refresh") cache.replaceIfPresent(cached);
      else cache.set(cached);
      return cached;
    }
    // A response made from a later status was stored meanwhile: that one is the answer.
    const latest = await store.get(serial, hash);
    if (latest === undefined || latest.caId !== entry.caId) return cached;
    const winner = toCachedResponse(latest);
    cache.noteChange(winner.key);
    cache.set(winner);
    return winner;
  }

  /**
   * After a first request stored its response: the certificate row again, when its status moved past
   * the one signed (see the class comment). When the re-read fails, the row just stored is removed
   * (best effort) before the error goes up: without it, a revocation that slipped past the outbox
   * consumer could leave a "good" stored.
   */
  private async changedSinceSigned(serial: string, rank: number, entry: IssuerEntry, hash: CertIdHash): Promise<CertificateStatusSnapshot | undefined> {
    let now: CertificateStatusSnapshot | undefined;
    try {
      now = (await this.deps.statuses.statuses([serial])).get(serial);
    } catch (e) {
      await this.deps.store.remove([{ serial, hash }]).catch(() => undefined);
      throw e;
    }
    return now !== undefined && decide(now, entry.caId).rank > rank ? now : undefined;
  }
}
