import type { OutboxReader } from "../ca/revocation/outbox.js";
import type { Clock, Random, Signer } from "../ca/ports.js";
import type { AuditStore, CaGenerationStore, TransactionRunner } from "../ca/stores.js";
import type { CaId } from "../ca/types.js";
import { AccessRecorder, type AccessRecorderOptions } from "./access-recorder.js";
import { DemandRecorder, type DemandRecorderOptions } from "./demand-recorder.js";
import { noopOcspMetrics, type OcspMetrics } from "./ocsp-metrics.js";
import { OcspResponder } from "./ocsp-responder.js";
import type { CertificateStatusSource, OcspAccessLog, OcspResponseStore } from "../ca/revocation/ocsp-ports.js";
import type { StatusAfterExpiry } from "../ca/revocation/status-after-expiry.js";
import { PresignedResponses } from "./presigned-responses.js";
import { OcspPresigner, type PresignerOptions } from "./presigner.js";
import { defaultResponderRenewalOptions, renewDueResponders, type RenewalOutcome, type ResponderKeys, type ResponderRenewalOptions } from "./responder-renewal.js";
import { OcspResponders, type SignerFactory } from "./responders.js";
import { ResponseCache } from "./response-cache.js";
import { defaultResponseValidity, ResponseMaker, type ResponseValidity } from "./response-maker.js";
import { SigningGate } from "./signing-gate.js";

/**
 * The OCSP responder of one process, wired: responders per CA generation, the memory cache, the
 * stored responses (signed on demand), the live signing gate, the background pre-signer (status
 * changes, refresh, drop), the demand recorder, responder renewal and the access recorder. `create` loads the responders; `start` runs the background work; `stop` ends it
 * and flushes the access log. In a cluster, the pre-signer's background loops and responder renewal
 * run in one process at a time, under job leases (docs/cluster.md).
 */
export interface OcspServiceOptions {
  /** CertIDs per request. Default 20. */
  readonly maxCertIds: number;
  /** Responses kept in memory. Default 100,000 (about 1 kB each). */
  readonly cacheEntries: number;
  readonly validity: ResponseValidity;
  /** Live signatures at once (match the HSM session pool). Default 4. */
  readonly liveConcurrency: number;
  /** Live signatures waiting; beyond, `tryLater`. Default 256. */
  readonly liveQueue: number;
  readonly presigner: Partial<PresignerOptions>;
  readonly renewal: ResponderRenewalOptions;
  /** How often responder certificates are checked for renewal. Default 1 h. */
  readonly renewalCheckMs: number;
  readonly accessLog: Partial<AccessRecorderOptions>;
  /** Batching of last_requested_at (ocsp/demand-recorder.ts). */
  readonly demand: Partial<DemandRecorderOptions>;
  /**
   * Status after expiry (docs/ocsp.md "Status after expiry"): answers until the cutoff, archiveCutoff on
   * every response of a kind that keeps it. Absent: today's behaviour.
   */
  readonly afterExpiry?: StatusAfterExpiry;
}

export const defaultOcspServiceOptions: OcspServiceOptions = Object.freeze({
  maxCertIds: 20,
  cacheEntries: 100_000,
  validity: defaultResponseValidity,
  liveConcurrency: 4,
  liveQueue: 256,
  presigner: {},
  renewal: defaultResponderRenewalOptions,
  renewalCheckMs: 3_600_000,
  accessLog: {},
  demand: {},
});

export interface OcspLog {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface OcspServiceDeps {
  readonly clock: Clock;
  readonly random: Random;
  readonly generations: Pick<CaGenerationStore, "list" | "setOcspResponder">;
  readonly transactions: TransactionRunner;
  readonly audit: Pick<AuditStore, "append">;
  readonly outbox: OutboxReader;
  readonly responses: OcspResponseStore;
  readonly statuses: CertificateStatusSource;
  readonly accessLog: OcspAccessLog;
  /** Opens responder keys (Pkcs11Hsm.signer). */
  readonly signerFor: SignerFactory;
  /** Responder key generation (Pkcs11Hsm) and the CA keys: without them, responders are not renewed. */
  readonly renewal?: { readonly keys: ResponderKeys; readonly caSigner: (caId: CaId) => Promise<Signer | undefined> };
  readonly metrics?: OcspMetrics;
  readonly log: OcspLog;
}

export class OcspService {
  readonly responders: OcspResponders;
  readonly cache: ResponseCache;
  readonly gate: SigningGate;
  readonly maker: ResponseMaker;
  readonly presigned: PresignedResponses;
  readonly responder: OcspResponder;
  readonly presigner: OcspPresigner;
  readonly accessRecorder: AccessRecorder;
  readonly demand: DemandRecorder;
  readonly options: OcspServiceOptions;
  private reloadTimer: NodeJS.Timeout | undefined;
  private renewalTimer: NodeJS.Timeout | undefined;
  private renewing: Promise<RenewalOutcome[]> | undefined;
  private reloading: Promise<unknown> | undefined;

  private constructor(
    private readonly deps: OcspServiceDeps,
    options: Partial<OcspServiceOptions>,
  ) {
    this.options = { ...defaultOcspServiceOptions, ...options };
    const metrics = deps.metrics ?? noopOcspMetrics;
    const o = this.options;
    this.responders = new OcspResponders({
      generations: deps.generations,
      signerFor: deps.signerFor,
      onSkipped: (caId, why) => deps.log.warn({ caId, why }, "CA generation has no usable OCSP responder"),
    });
    this.cache = new ResponseCache(o.cacheEntries);
    this.gate = new SigningGate({ concurrency: o.liveConcurrency, maxQueue: o.liveQueue, onDepth: (d) => metrics.setSigningQueueDepth(d) });
    this.maker = new ResponseMaker(deps.clock, o.validity, o.afterExpiry);
    this.demand = new DemandRecorder({ store: deps.responses, clock: deps.clock, log: deps.log }, o.demand);
    this.presigned = new PresignedResponses({
      responders: this.responders,
      cache: this.cache,
      store: deps.responses,
      statuses: deps.statuses,
      maker: this.maker,
      clock: deps.clock,
      metrics,
      demand: this.demand,
      ...(o.afterExpiry ? { afterExpiry: o.afterExpiry } : {}),
    });
    this.responder = new OcspResponder({
      responders: this.responders,
      presigned: this.presigned,
      statuses: deps.statuses,
      maker: this.maker,
      gate: this.gate,
      metrics,
      log: deps.log,
      limits: { maxCertIds: o.maxCertIds },
      ...(o.afterExpiry ? { afterExpiry: { policy: o.afterExpiry, clock: deps.clock } } : {}),
    });
    this.presigner = new OcspPresigner(
      {
        presigned: this.presigned,
        responders: this.responders,
        store: deps.responses,
        cache: this.cache,
        outbox: deps.outbox,
        clock: deps.clock,
        validity: o.validity,
        metrics,
        log: deps.log,
        ...(o.afterExpiry ? { afterExpiry: { policy: o.afterExpiry, statuses: deps.statuses } } : {}),
      },
      o.presigner,
    );
    this.accessRecorder = new AccessRecorder(deps.accessLog, deps.log, o.accessLog);
  }

  /** Builds the service and loads the responders of every CA generation. */
  static async create(deps: OcspServiceDeps, options: Partial<OcspServiceOptions> = {}): Promise<OcspService> {
    const service = new OcspService(deps, options);
    await service.responders.reload();
    return service;
  }

  /**
   * Renews due responder certificates and, if any was renewed, switches to them. `transactions`: the
   * job lease's fenced ones when run as the cluster singleton (a renewal by a process whose lease
   * moved on is not recorded).
   */
  renewResponders(transactions: TransactionRunner = this.deps.transactions): Promise<RenewalOutcome[]> {
    const r = this.deps.renewal;
    if (!r) return Promise.resolve([]);
    if (this.renewing) return this.renewing;
    const p = (async () => {
      const outcomes = await renewDueResponders(
        { generations: this.deps.generations, transactions, audit: this.deps.audit, keys: r.keys, caSigner: r.caSigner, clock: this.deps.clock, random: this.deps.random },
        this.options.renewal,
      );
      for (const o of outcomes) {
        if (o.action === "renewed") this.deps.log.info({ caId: o.caId, keyUri: o.keyUri, notAfter: o.notAfter.toISOString() }, "OCSP responder certificate renewed");
        else this.deps.log.warn({ caId: o.caId, why: o.why }, "OCSP responder certificate due but not renewed");
      }
      if (outcomes.some((o) => o.action === "renewed")) await this.responders.reload();
      return outcomes;
    })().finally(() => {
      if (this.renewing === p) this.renewing = undefined;
    });
    this.renewing = p;
    return p;
  }

  /**
   * Runs the work every service process does: following the responses others sign, the access log,
   * the demand recorder, and the hourly reload of responder certificates (a generation added by a
   * ceremony or a responder renewed by another process is picked up without a restart). With
   * `singletons` (default: a lone process) also the cluster's one-process work without a lease, the
   * pre-signer's background loops and responder renewal; api/main.ts passes false and runs those under
   * their job leases instead (`presigner.startBackground`, `startRenewal`; docs/cluster.md).
   */
  start(options: { singletons?: boolean } = {}): void {
    this.presigner.start();
    this.accessRecorder.start();
    this.demand.start();
    if (!this.reloadTimer) {
      const reload = (): void => {
        if (this.reloading) return;
        this.reloading = this.responders
          .reload()
          .catch((e: unknown) => this.deps.log.error({ err: (e as Error)?.name, message: (e as Error)?.message }, "OCSP responder reload failed"))
          .finally(() => (this.reloading = undefined));
      };
      this.reloadTimer = setInterval(reload, this.options.renewalCheckMs);
      this.reloadTimer.unref();
    }
    if (options.singletons ?? true) {
      this.presigner.startBackground();
      this.startRenewal();
    }
  }

  /**
   * Renews due responder certificates at once and every `renewalCheckMs` (one process of the cluster:
   * two at once would make two keys). Returns the stop function, which waits for a renewal under way.
   */
  startRenewal(transactions: TransactionRunner = this.deps.transactions): () => Promise<void> {
    const check = (): void => {
      void this.renewResponders(transactions).catch((e: unknown) => this.deps.log.error({ err: (e as Error)?.name, message: (e as Error)?.message }, "OCSP responder renewal failed"));
    };
    if (this.renewalTimer) clearInterval(this.renewalTimer);
    const timer = setInterval(check, this.options.renewalCheckMs);
    timer.unref();
    this.renewalTimer = timer;
    check();
    return async () => {
      clearInterval(timer);
      if (this.renewalTimer === timer) this.renewalTimer = undefined;
      await this.renewing?.catch(() => undefined);
    };
  }

  async stop(): Promise<void> {
    if (this.reloadTimer) clearInterval(this.reloadTimer);
    if (this.renewalTimer) clearInterval(this.renewalTimer);
    this.reloadTimer = undefined;
    this.renewalTimer = undefined;
    await Promise.allSettled([this.presigner.stop(), this.renewing ?? Promise.resolve([]), this.reloading ?? Promise.resolve()]);
    await Promise.all([this.accessRecorder.stop(), this.demand.stop()]);
  }
}
