import { createHash, timingSafeEqual } from "node:crypto";
import Router from "@koa/router";
import type { Context } from "koa";
import { CaError } from "../../ca/errors.js";
import type { Signer } from "../../ca/ports.js";
import type { Database } from "../../db/database.js";
import { asDatabaseUnavailable, sqlState } from "../../db/database-errors.js";
import { NodeHeartbeatStore } from "../../db/node-heartbeat-store.js";
import { ocspOutboxLagMs } from "../../db/outbox-lag.js";
import type { Metrics } from "../metrics.js";

/** A dependency the service needs to answer (database, HSM). */
export interface ReadinessCheck {
  readonly name: string;
  check(): Promise<void>;
}

/**
 * `/healthz` (the process answers), `/readyz` (every check passes, else 503 naming the failed checks:
 * docs/api.md "Health"). A check's error is shown only when it is a CaError (our own wording, no
 * personal data); anything else is "unreachable".
 */
export function healthRoutes(checks: readonly ReadinessCheck[]): Router {
  const router = new Router();
  router.get("/healthz", function answerAlive(ctx) {
    ctx.body = { status: "ok" };
  });
  router.get("/readyz", async function answerReady(ctx) {
    const results = await Promise.all(
      checks.map(async (c) => {
        const started = performance.now();
        try {
          await withTimeout(c.check(), 2000);
          return { name: c.name, ok: true, ms: Math.round(performance.now() - started) };
        } catch (e) {
          return { name: c.name, ok: false, error: (e as Error).name === "CaError" ? (e as Error).message : "unreachable" };
        }
      }),
    );
    const failed = results.filter((r) => !r.ok).map((r) => r.name);
    ctx.status = failed.length === 0 ? 200 : 503;
    ctx.set("Cache-Control", "no-store");
    ctx.body = failed.length === 0 ? { status: "ready", checks: results } : { status: "not ready", failed, checks: results };
  });
  return router;
}

/** How long a passed HSM signing check is trusted (a failed one: {@link HSM_SIGN_FAILURE_CACHE_MS}). */
export const HSM_SIGN_CACHE_MS = 5000;
const HSM_SIGN_FAILURE_CACHE_MS = 1000;
/** The message the HSM check signs: fixed ASCII, not DER, so the signature certifies nothing. */
const PROBE_MESSAGE = new TextEncoder().encode("jpki-ca readiness probe: not a certificate");

export interface ClusterReadinessDeps {
  readonly db: Database;
  /** The CA keys in use (api/wiring/live-ca-generations.ts); the first one signs the probe. */
  readonly signers: ReadonlyMap<unknown, Signer>;
  /** Outbox consumer of the OCSP pre-signer (ocsp/presigner.ts, default "ocsp"). */
  readonly ocspConsumer?: string;
  /** Not ready when the OCSP responses lag the outbox by more (config `readiness.ocspMaxLagSeconds`). */
  readonly ocspMaxLagMs: number;
  /** The write probe (default: a NodeHeartbeatStore on `db`, one write per 5 s at most). */
  readonly heartbeat?: NodeHeartbeatStore;
}

/**
 * The checks that tell a load balancer a node must not get traffic (issue 14 items 2 and 3c), beyond
 * "the database answers a read" and "an HSM session is logged in":
 * - `database-write`: a committed upsert of this node's heartbeat row (db/node-heartbeat-store.ts),
 *   rate-limited; a full disk or a read-only database fails it.
 * - `hsm-sign`: a CA key signs a fixed probe message (cached {@link HSM_SIGN_CACHE_MS}); a token gone,
 *   a lost login or a key no longer found fails it.
 * - `ocsp-lag`: no revocation or hold older than the limit still has a stored OCSP response that does not
 *   say so (db/outbox-lag.ts: the status changes after the OCSP pre-signer's outbox cursor).
 */
export function clusterReadinessChecks(deps: ClusterReadinessDeps): ReadinessCheck[] {
  const heartbeat = deps.heartbeat ?? new NodeHeartbeatStore(deps.db);
  const consumer = deps.ocspConsumer ?? "ocsp";
  return [
    {
      name: "database-write",
      check: async () => {
        try {
          await heartbeat.beat();
        } catch (err) {
          const mapped = asDatabaseUnavailable(err);
          const state = sqlState(err);
          throw mapped instanceof CaError ? mapped : new CaError("unavailable", `database refused a write${state ? ` (SQLSTATE ${state})` : ""}`, { cause: err });
        }
      },
    },
    { name: "hsm-sign", check: cachedOutcome(() => signProbe(deps.signers), HSM_SIGN_CACHE_MS, HSM_SIGN_FAILURE_CACHE_MS) },
    {
      name: "ocsp-lag",
      check: async () => {
        const lag = await ocspOutboxLagMs(deps.db, consumer).catch((err: unknown) => {
          throw asDatabaseUnavailable(err);
        });
        if (lag > deps.ocspMaxLagMs) {
          throw new CaError("unavailable", `OCSP responses lag the revocation outbox by ${Math.round(lag / 1000)} s (limit ${Math.round(deps.ocspMaxLagMs / 1000)} s)`);
        }
      },
    },
  ];
}

async function signProbe(signers: ReadonlyMap<unknown, Signer>): Promise<void> {
  const signer = signers.values().next().value as Signer | undefined;
  if (!signer) throw new CaError("unavailable", "no CA key loaded");
  try {
    const signature = await signer.sign(PROBE_MESSAGE);
    if (signature.length === 0) throw new CaError("unavailable", "HSM returned an empty signature");
  } catch (err) {
    if (err instanceof CaError) throw new CaError("unavailable", `HSM cannot sign: ${err.message}`, { cause: err });
    throw new CaError("unavailable", "HSM cannot sign", { cause: err });
  }
}

/** Runs `probe` at most once per `okMs` after a success (`failMs` after a failure); callers share one run. */
function cachedOutcome(probe: () => Promise<void>, okMs: number, failMs: number): () => Promise<void> {
  let last: { at: number; ok: boolean; result: Promise<void> } | undefined;
  return () => {
    const now = Date.now();
    if (last && now - last.at < (last.ok ? okMs : failMs)) return last.result;
    const entry: { at: number; ok: boolean; result: Promise<void> } = { at: now, ok: true, result: Promise.resolve() };
    entry.result = probe().catch((err: unknown) => {
      entry.ok = false;
      entry.at = Date.now();
      throw err;
    });
    entry.result.catch(() => undefined);
    last = entry;
    return entry.result;
  };
}

/**
 * `/metrics` (Prometheus text). Served on the metrics listener (config `metrics.listen`) and, only
 * when a scrape token is configured, on the public HTTP listener too (issue 12: the exposition names
 * routes, operators' lockouts and the HSM's load, which is reconnaissance for an attacker). With a
 * token, a scrape without `Authorization: Bearer <token>` is a 401 problem wherever it arrives.
 */
export function metricsRoutes(metrics: Metrics, token: string | null): Router {
  const router = new Router();
  router.get("/metrics", async function answerMetrics(ctx) {
    if (token !== null && !bearerMatches(ctx, token)) {
      ctx.set("WWW-Authenticate", 'Bearer realm="metrics"');
      throw new CaError("unauthenticated", "a metrics scrape token is required");
    }
    ctx.set("Cache-Control", "no-store");
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.exposition();
  });
  return router;
}

/** Constant-time comparison of the presented bearer token (digests of equal length). */
function bearerMatches(ctx: Context, token: string): boolean {
  const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(ctx.get("Authorization"));
  if (!m?.[1]) return false;
  const digest = (v: string): Buffer => createHash("sha256").update(v).digest();
  return timingSafeEqual(digest(m[1]), digest(token));
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("timeout")), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
