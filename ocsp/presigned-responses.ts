import type { Clock } from "../ca/ports.js";
import { encodeCertId, type CertIdHash } from "./cert-id.js";
import { decide, storedSerialForm } from "./certificate-status.js";
import type { OcspMetrics } from "./ocsp-metrics.js";
import { certStatusName } from "./ocsp-response.js";
import type { CertificateStatusSnapshot, CertificateStatusSource, OcspResponseStore, StoredOcspResponse } from "../ca/revocation/ocsp-ports.js";
import type { IssuerEntry, OcspResponders } from "./responders.js";
import { cacheKey, toCachedResponse, type CachedResponse, type ResponseCache } from "./response-cache.js";
import type { ResponseMaker } from "./response-maker.js";

/**
 * Pre-signed responses: one per certificate and CertID hash, signed at issuance and on every status
 * change, kept in the database (shared by every responder process) and in a bounded memory cache.
 *
 * - `lookup`: memory, then database; only responses before their nextUpdate.
 * - `make`: signs the current status of one (generation, hash, serial), stores it when it is about an
 *   issued certificate, caches it. Concurrent misses of one key share one signature.
 * - `resign`: the outbox consumer and the half-life refresher re-sign every stored variant of some
 *   serials (SHA-1 always: RFC 5019 §2.1.1 makes it what lightweight clients send).
 */
export type SigningPurpose = "live" | "presign" | "refresh";
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
    },
  ) {}

  /** A response still before its nextUpdate, from memory or the database; undefined otherwise. */
  async lookup(entry: IssuerEntry, hash: CertIdHash, serialHex: string): Promise<CachedResponse | undefined> {
    const key = cacheKey(entry.caId, hash, serialHex);
    const now = this.deps.clock.now().getTime();
    const hit = this.deps.cache.get(key);
    if (hit !== undefined && hit.nextUpdate.getTime() > now) return hit;
    const serial = storedSerialForm(serialHex);
    if (serial === undefined) return undefined;
    const version = this.deps.cache.version;
    const row = await this.deps.store.get(serial, hash);
    if (row === undefined || row.caId !== entry.caId || row.nextUpdate.getTime() <= now) return undefined;
    const cached = toCachedResponse(row);
    this.deps.cache.setIfUnchangedSince(cached, version);
    return cached;
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
    // Coalesce live misses only: a status change must sign after the change, not join a signature of the old state.
    if (purpose === "live") {
      const running = this.inflight.get(key);
      if (running) return running;
    }
    const p = this.makeNow(entry, hash, serialHex, purpose, options).finally(() => {
      if (this.inflight.get(key) === p) this.inflight.delete(key);
    });
    if (purpose === "live") this.inflight.set(key, p);
    return p;
  }

  /**
   * Re-signs serials: every hash variant in `hashes` (default: those stored, plus SHA-1). Serials
   * with no certificate row or of a generation without a responder are skipped.
   * @returns responses signed
   */
  async resign(
    targets: ReadonlyArray<{ serial: string; hashes?: readonly CertIdHash[] }>,
    purpose: Exclude<SigningPurpose, "live">,
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
    };
    const cached = toCachedResponse(response);
    if (!decision.storable || serial === undefined) {
      cache.setIfUnchangedSince(cached, version);
      return cached;
    }
    if (await store.put(response)) {
      cache.noteChange(cached.key);
      // A refresh must not fill the cache with every certificate; a status change or a miss should be there.
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
}
