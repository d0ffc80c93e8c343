import type { Clock } from "../ca/ports.js";
import type { StatusAfterExpiry } from "../ca/revocation/status-after-expiry.js";
import { encodeCertId, type CertIdHash } from "./cert-id.js";
import { decide, storedSerialForm } from "./certificate-status.js";
import type { OcspMetrics } from "./ocsp-metrics.js";
import { certStatusName } from "./ocsp-response.js";
import { storedResponseKey, type CertificateStatusSnapshot, type CertificateStatusSource, type OcspResponseStore, type StoredOcspResponse } from "../ca/revocation/ocsp-ports.js";
import { BatchCollector } from "./batch-collector.js";
import type { DemandRecorder } from "./demand-recorder.js";
import type { IssuerEntry, OcspResponders } from "./responders.js";
import { cacheKey, toCachedResponse, type CachedResponse, type ResponseCache } from "./response-cache.js";
import type { ResponseMaker } from "./response-maker.js";

/**
 * Stored responses, signed on demand (docs/ocsp.md "Demand-driven responses"): one per certificate
 * and CertID hash that a relying party asked about, kept in the database (shared by every responder
 * process) and in a bounded memory cache.
 *
 * - `cached`: memory only; `firstRequest`: what memory does not hold — the stored response when the
 *   database has one before its nextUpdate, else signed now, stored and cached. Requests that miss memory
 *   in the same turn of the event loop share their round trips (one read of their stored responses and
 *   certificate rows, one insert of what was signed, one re-read), and concurrent requests of one key share
 *   one signature. Every answer given is noted for the demand recorder (what is asked gets refreshed;
 *   what is not is dropped).
 * - `make`: signs the current status of one (generation, hash, serial), stores it when it is about an
 *   issued certificate, caches it.
 * - `resign`: the outbox consumer (status changes of stored responses) and the half-life refresher.
 */
export type SigningPurpose = "first-request" | "status-change" | "refresh";
/** Runs a signature, e.g. through the live SigningGate. */
export type SignRunner = <T>(work: () => Promise<T>) => Promise<T>;

const direct: SignRunner = (work) => work();

/** Responses handled in one batch at most (one statement each for their reads and their insert). */
const FIRST_REQUEST_BATCH = 64;

interface FirstRequest {
  readonly entry: IssuerEntry;
  readonly hash: CertIdHash;
  readonly serialHex: string;
  /** The serial as `certificates` stores it; undefined for one that cannot be ours (then never stored). */
  readonly serial: string | undefined;
  readonly run: SignRunner;
}

/** A response signed and not yet kept. */
interface Signed {
  readonly response: StoredOcspResponse;
  readonly cached: CachedResponse;
  /** About an issued certificate (false: unknown, or a serial of another form: answered, never stored). */
  readonly storable: boolean;
}

export class PresignedResponses {
  private readonly inflight = new Map<string, Promise<CachedResponse>>();
  private readonly firstRequests = new BatchCollector<FirstRequest, CachedResponse>((items) => this.answerFirstRequests(items), FIRST_REQUEST_BATCH);

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
      /** Status after expiry (docs/ocsp.md): answered as recorded until the cutoff, then unknown. */
      readonly afterExpiry?: StatusAfterExpiry;
    },
  ) {}

  /** A response still before its nextUpdate in memory (noted as asked); undefined otherwise. */
  cached(entry: IssuerEntry, hash: CertIdHash, serialHex: string): CachedResponse | undefined {
    const now = this.deps.clock.now().getTime();
    const hit = this.deps.cache.get(cacheKey(entry.caId, hash, serialHex));
    if (hit === undefined || hit.nextUpdate.getTime() <= now) return undefined;
    this.deps.demand?.note(hit, now);
    return hit;
  }

  /**
   * The answer to a request memory does not hold (see the class comment): stored, or signed through
   * `run` now. Counted as a pre-signed lookup hit or miss.
   */
  firstRequest(entry: IssuerEntry, hash: CertIdHash, serialHex: string, run: SignRunner = direct): Promise<CachedResponse> {
    const key = cacheKey(entry.caId, hash, serialHex);
    const running = this.inflight.get(key);
    if (running) {
      this.deps.metrics.countPresignedLookup(false);
      return running;
    }
    const p = this.firstRequests.add({ entry, hash, serialHex, serial: storedSerialForm(serialHex), run }).finally(() => {
      if (this.inflight.get(key) === p) this.inflight.delete(key);
    });
    this.inflight.set(key, p);
    return p;
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
   * Signs the current answer for one key after a status change or for a refresh, and keeps it.
   * `snapshot`: the certificate row when the caller already read it (null: known absent); read here
   * otherwise. Never joins a signature in flight: it must sign the state after the change.
   */
  async make(
    entry: IssuerEntry,
    hash: CertIdHash,
    serialHex: string,
    purpose: Exclude<SigningPurpose, "first-request">,
    options: { snapshot?: CertificateStatusSnapshot | null; run?: SignRunner } = {},
  ): Promise<CachedResponse> {
    const version = this.deps.cache.version;
    const serial = storedSerialForm(serialHex);
    let snapshot = options.snapshot ?? undefined;
    if (options.snapshot === undefined && serial !== undefined) snapshot = (await this.deps.statuses.statuses([serial])).get(serial);
    const signed = await this.sign(entry, hash, serialHex, snapshot, purpose, options.run ?? direct);
    if (!signed.storable) return this.keepUnstored(signed, version);
    return (await this.deps.store.put(signed.response)) ? this.keepWritten(signed, purpose) : this.adoptStored(signed);
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
    const jobs: Array<() => Promise<Signed>> = [];
    for (const t of targets) {
      const snapshot = snapshots.get(t.serial);
      const entry = snapshot && this.deps.responders.get(snapshot.caId);
      if (!snapshot || !entry) continue;
      const hashes = new Set<CertIdHash>(t.hashes ?? ["sha1", ...(stored.get(t.serial) ?? [])]);
      for (const h of hashes) jobs.push(() => this.sign(entry, h, t.serial, snapshot, purpose, direct));
    }
    // Signed `concurrency` at a time and stored a chunk at a time: one insert and one commit per chunk,
    // and the first revocations of a large batch are stored (and followed) without waiting for the last.
    for (let from = 0; from < jobs.length; from += FIRST_REQUEST_BATCH) {
      const chunk = jobs.slice(from, from + FIRST_REQUEST_BATCH);
      const signed: Signed[] = [];
      let next = 0;
      const lane = async (): Promise<void> => {
        while (next < chunk.length) signed.push(await chunk[next++]!());
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, chunk.length) }, lane));
      const version = this.deps.cache.version;
      const written = await this.deps.store.putMany(signed.filter((s) => s.storable).map((s) => s.response));
      await Promise.all(
        signed.map((s) => {
          if (!s.storable) return this.keepUnstored(s, version);
          return written.has(storedResponseKey(s.response.serial, s.response.hash)) ? this.keepWritten(s, purpose) : this.adoptStored(s);
        }),
      );
    }
    return jobs.length;
  }

  /**
   * A batch of first requests (see the class comment). Why a first request re-reads the status after
   * storing: a revocation committed between its status read and its store could reach the outbox
   * consumer before the row exists, and the consumer re-signs only stored responses. Re-reading after
   * the store closes that gap: either the re-read sees the revocation (and signs it here), or the
   * revocation committed after the row, and the consumer sees it.
   */
  private async answerFirstRequests(items: readonly FirstRequest[]): Promise<Array<PromiseSettledResult<CachedResponse>>> {
    const { cache, store, statuses, clock, metrics } = this.deps;
    const version = cache.version;
    const now = clock.now().getTime();
    const keys = items.flatMap((i) => (i.serial === undefined ? [] : [{ serial: i.serial, hash: i.hash }]));
    const [stored, snapshots] = await Promise.all([store.getMany(keys), statuses.statuses([...new Set(keys.map((k) => k.serial))])]);
    const results = new Array<PromiseSettledResult<CachedResponse>>(items.length);
    const misses: number[] = [];
    items.forEach((item, i) => {
      const row = item.serial === undefined ? undefined : stored.get(storedResponseKey(item.serial, item.hash));
      const fresh = row !== undefined && row.caId === item.entry.caId && row.nextUpdate.getTime() > now;
      metrics.countPresignedLookup(fresh);
      if (!fresh) return misses.push(i);
      const hit = toCachedResponse(row);
      cache.setIfUnchangedSince(hit, version);
      this.deps.demand?.note(hit, now);
      results[i] = { status: "fulfilled", value: hit };
    });
    const signing = await Promise.allSettled(
      misses.map((i) => {
        const { entry, hash, serialHex, serial, run } = items[i]!;
        return this.sign(entry, hash, serialHex, serial === undefined ? undefined : snapshots.get(serial), "first-request", run);
      }),
    );
    const toStore: Array<{ index: number; signed: Signed }> = [];
    signing.forEach((r, j) => {
      const i = misses[j]!;
      if (r.status === "rejected") results[i] = r;
      else if (!r.value.storable) results[i] = { status: "fulfilled", value: this.keepUnstored(r.value, version) };
      else toStore.push({ index: i, signed: r.value });
    });
    if (toStore.length > 0) {
      // A failing insert or re-read fails the signed requests only; the stored hits above are answered.
      const kept = await this.storeFirstRequests(toStore.map((t) => t.signed), items[toStore[0]!.index]!.run).catch((reason: unknown) =>
        toStore.map((): PromiseSettledResult<CachedResponse> => ({ status: "rejected", reason })),
      );
      toStore.forEach((t, k) => {
        results[t.index] = kept[k]!;
      });
    }
    return results;
  }

  /** Stores signed first requests in one statement, re-reads their rows, and keeps each (see answerFirstRequests). */
  private async storeFirstRequests(signed: readonly Signed[], run: SignRunner): Promise<Array<PromiseSettledResult<CachedResponse>>> {
    const { store, statuses } = this.deps;
    const written = await store.putMany(signed.map((s) => s.response));
    const keysWritten = signed.filter((s) => written.has(storedResponseKey(s.response.serial, s.response.hash))).map((s) => ({ serial: s.response.serial, hash: s.response.hash }));
    let now: Map<string, CertificateStatusSnapshot>;
    try {
      now = keysWritten.length === 0 ? new Map() : await statuses.statuses([...new Set(keysWritten.map((k) => k.serial))]);
    } catch (e) {
      // Without the re-read a revocation that slipped past the outbox consumer could leave a "good" stored.
      await store.remove(keysWritten).catch(() => undefined);
      throw e;
    }
    return Promise.allSettled(
      signed.map(async (s) => {
        const { response, cached } = s;
        if (!written.has(storedResponseKey(response.serial, response.hash))) return this.adoptStored(s);
        const newer = now.get(response.serial);
        const entry = this.deps.responders.get(response.caId);
        // A later status version (a lifted hold, migration 0028) is newer too, though its rank is lower.
        if (newer !== undefined && entry !== undefined && (decide(newer, entry.caId).rank > cached.rank || (newer.statusVersion ?? 0) > (cached.statusVersion ?? 0))) {
          return this.make(entry, response.hash, response.serial, "status-change", { snapshot: newer, run });
        }
        return this.keepWritten(s, "first-request");
      }),
    );
  }

  /** Signs what `snapshot` (undefined: no such certificate) says, for one key. */
  private async sign(
    entry: IssuerEntry,
    hash: CertIdHash,
    serialHex: string,
    snapshot: CertificateStatusSnapshot | undefined,
    purpose: SigningPurpose,
    run: SignRunner,
  ): Promise<Signed> {
    const { afterExpiry } = this.deps;
    const decision = decide(snapshot, entry.caId, afterExpiry && { afterExpiry, now: this.deps.clock.now() });
    const hashes = entry.issuerHashes[hash];
    const certId = encodeCertId(hash, hashes.name, hashes.key, serialHex);
    const signed = await run(() => this.deps.maker.sign(entry, [{ certId, status: decision.status, provisional: decision.provisional, statusUntil: decision.statusUntil }]));
    this.deps.metrics.countSignature(purpose);
    const response: StoredOcspResponse = {
      serial: serialHex,
      hash,
      caId: entry.caId,
      der: signed.der,
      certStatus: certStatusName(decision.status),
      rank: decision.rank,
      statusVersion: snapshot?.statusVersion ?? 0,
      revokedAt: decision.status.kind === "revoked" ? decision.status.revokedAt : null,
      reason: decision.status.kind === "revoked" ? decision.status.reason : null,
      thisUpdate: signed.thisUpdate,
      nextUpdate: signed.nextUpdate,
      producedAt: signed.producedAt,
      // A first request is a request: the response starts its window now.
      lastRequestedAt: purpose === "first-request" ? signed.thisUpdate : null,
    };
    return { response, cached: toCachedResponse(response), storable: decision.storable && storedSerialForm(serialHex) !== undefined };
  }

  /** An answer that is never stored (unknown serial): cached unless a change of its key was noted since `version`. */
  private keepUnstored(s: Signed, version: number): CachedResponse {
    this.deps.cache.setIfUnchangedSince(s.cached, version);
    return s.cached;
  }

  /** A response just written: the cache follows it. */
  private keepWritten(s: Signed, purpose: SigningPurpose): CachedResponse {
    const { cache } = this.deps;
    cache.noteChange(s.cached.key);
    // A refresh must not fill the cache with every certificate; a status change or a request should be there.
    if (purpose === "refresh") cache.replaceIfPresent(s.cached);
    else cache.set(s.cached);
    return s.cached;
  }

  /** A response made from a later status was stored meanwhile: that one is the answer. */
  private async adoptStored(s: Signed): Promise<CachedResponse> {
    const latest = await this.deps.store.get(s.response.serial, s.response.hash);
    if (latest === undefined || latest.caId !== s.response.caId) return s.cached;
    const winner = toCachedResponse(latest);
    this.deps.cache.noteChange(winner.key);
    this.deps.cache.set(winner);
    return winner;
  }
}
