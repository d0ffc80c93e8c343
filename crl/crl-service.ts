import { CaError } from "../ca/errors.js";
import type { OutboxReader } from "../ca/revocation/outbox.js";
import type { StatusAfterExpiry } from "../ca/revocation/status-after-expiry.js";
import type { Clock, Signer } from "../ca/ports.js";
import type { TransactionRunner } from "../ca/stores.js";
import type { CaGeneration, CaId } from "../ca/types.js";
import { checkCoverage, type CoverageReport } from "./coverage-check.js";
import { crlAuthority, type CrlAuthority } from "./crl-authority.js";
import { CrlIssuer } from "./crl-issuer.js";
import type { CrlMetrics } from "./crl-metrics.js";
import type { CrlStore, RevokedEntrySource, SerialLookup } from "../ca/revocation/crl-ports.js";
import { CrlScheduler, type CrlLogger } from "./crl-scheduler.js";
import type { CrlSettings } from "./crl-settings.js";
import type { ReleasedEntrySource } from "../ca/revocation/phone-cascade.js";

export interface CrlServiceDeps {
  /** db/crl-store.ts KnexCrlStore implements all three. */
  readonly store: CrlStore & RevokedEntrySource & SerialLookup;
  readonly outbox: OutboxReader;
  readonly transactions: TransactionRunner;
  readonly generations: readonly CaGeneration[];
  /** CA key signers by generation (api/main.ts checkCaKeys). Generations without one get no CRLs. */
  readonly signers: ReadonlyMap<CaId, Signer>;
  /** The end-entity profile's crlBaseUrl (the certificates' CDP base). */
  readonly crlBaseUrl: string;
  readonly clock: Clock;
  readonly settings: CrlSettings;
  readonly metrics?: CrlMetrics;
  readonly logger?: CrlLogger;
  readonly owner?: string;
  /** Status after expiry (docs/crl.md): issuer and coverage check keep the same entries. */
  readonly afterExpiry?: StatusAfterExpiry;
  /** Lifted phone holds for delta CRLs (removeFromCRL: crl/released-entries.ts); db/revocation-release-store.ts. */
  readonly released?: ReleasedEntrySource;
}

/** The CRL part, wired: what the composition root, the admin route and the CLI use. */
export interface CrlService {
  readonly authorities: readonly CrlAuthority[];
  readonly issuer: CrlIssuer;
  readonly scheduler: CrlScheduler;
  readonly settings: CrlSettings;
  /** A CA generation made while running (api/wiring/live-ca-generations.ts): its CRLs from the next tick on. */
  addGeneration(ca: CaGeneration, signer: Signer): Promise<void>;
  /** The coverage check over every CA generation (or one); sets the coverage gauges. */
  checkCoverage(caId?: CaId): Promise<CoverageReport>;
  /**
   * Runs the coverage check every `everySeconds` on an unref'd timer (it reads every revoked row and
   * every current CRL: hourly is plenty). Returns the stop function.
   */
  startCoverageChecks(everySeconds: number): () => void;
}

/** Builds authorities (key checked against each CA certificate), issuer and scheduler. */
export function createCrlService(deps: CrlServiceDeps): CrlService {
  const authorities: CrlAuthority[] = [];
  for (const ca of deps.generations) {
    const signer = deps.signers.get(ca.id);
    if (signer === undefined) {
      deps.logger?.warn({ caId: ca.id }, "no signer for this CA generation: its CRLs are not issued");
      continue;
    }
    authorities.push(crlAuthority(ca, signer, deps.crlBaseUrl));
  }
  const issuer = new CrlIssuer({
    store: deps.store,
    entries: deps.store,
    clock: deps.clock,
    settings: deps.settings,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    ...(deps.afterExpiry ? { afterExpiry: deps.afterExpiry } : {}),
    ...(deps.released ? { released: deps.released } : {}),
  });
  const scheduler = new CrlScheduler({
    issuer,
    store: deps.store,
    outbox: deps.outbox,
    transactions: deps.transactions,
    authorities,
    clock: deps.clock,
    settings: deps.settings,
    ...(deps.owner ? { owner: deps.owner } : {}),
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  });
  const service: CrlService = {
    authorities,
    issuer,
    scheduler,
    settings: deps.settings,
    addGeneration: async (ca, signer) => {
      if (authorities.some((a) => a.caId === ca.id)) return;
      const authority = crlAuthority(ca, signer, deps.crlBaseUrl);
      await scheduler.addAuthority(authority);
      authorities.push(authority);
    },
    startCoverageChecks: (everySeconds) => {
      let running = false;
      const timer = setInterval(() => {
        if (running) return;
        running = true;
        service
          .checkCoverage()
          .then((r) => {
            if (!r.ok) deps.logger?.warn({ missing: r.missing, misplaced: r.misplaced, unlisted: r.unlisted, stale: r.stale, absent: r.absent }, "CRL coverage check found violations");
          })
          .catch((e: unknown) => deps.logger?.error({ err: e instanceof Error ? e.name : typeof e }, "CRL coverage check failed"))
          .finally(() => {
            running = false;
          });
      }, everySeconds * 1000);
      timer.unref();
      return () => clearInterval(timer);
    },
    checkCoverage: (caId) => {
      const scope = authorities.filter((a) => caId === undefined || a.caId === caId);
      if (caId !== undefined && scope.length === 0) return Promise.reject(new CaError("not-found", `no CA generation ${caId} with CRLs`));
      return checkCoverage(
        {
          store: deps.store,
          entries: deps.store,
          lookup: deps.store,
          clock: deps.clock,
          pageSize: deps.settings.pageSize,
          ...(deps.metrics ? { metrics: deps.metrics } : {}),
          ...(deps.afterExpiry ? { afterExpiry: deps.afterExpiry } : {}),
          ...(deps.released ? { released: deps.released } : {}),
        },
        scope,
      );
    },
  };
  return service;
}
