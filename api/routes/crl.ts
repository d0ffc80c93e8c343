import Router from "@koa/router";
import type { Context, Middleware, Next } from "koa";
import { z } from "zod";
import { CaError } from "../../ca/errors.js";
import type { Clock } from "../../ca/ports.js";
import type { RelyingPartyAuthenticator } from "../../ca/relying-parties/relying-party.js";
import type { OperatorRole } from "../../ca/operators/roles.js";
import type { AuditStore } from "../../ca/stores.js";
import { parseCaId, type CaId } from "../../ca/types.js";
import type { CrlKind, CrlStore, PublishedCrlInfo } from "../../ca/revocation/crl-ports.js";
import type { CrlScheduler, RunReport } from "../../crl/crl-scheduler.js";
import { clientIdentityOf } from "../client-identity.js";
import { operatorOf, revocationReaderOf, stateOf, type ApiMiddleware, type ApiState, type RevocationReader } from "../api-state.js";
import type { OpenApiDocument } from "../openapi.js";
import { pathParam, route } from "../route-contract.js";
import { adminOnly } from "./admin-common.js";
import { bearerToken } from "../operator-session.js";

/** docs/api.md §3 access modes: `registered` (JPKI: only registered relying parties) or `public`. */
export type RevocationAccessMode = "registered" | "public";

/** Who read revocation data: declared with the request state (api/api-state.ts). */
export type { RevocationReader } from "../api-state.js";

/** A read of a CRL, handed to `recordRead` (disclosure and billing records belong to the relying-party part). */
export interface CrlRead {
  readonly reader: RevocationReader;
  readonly caId: CaId;
  readonly partition: number;
  readonly kind: CrlKind;
  readonly number: number;
  readonly at: Date;
}

export interface CrlRouteDeps {
  readonly crls: Pick<CrlStore, "published" | "publishedDer">;
  readonly clock: Clock;
  readonly access: RevocationAccessMode;
  /** Registered relying parties (ca/relying-parties/relying-party.ts RelyingPartyRegistry); unused in public mode. */
  readonly relyingParties: Pick<RelyingPartyAuthenticator, "byApiKey" | "byCertificateId">;
  /** Cap on Cache-Control max-age (seconds); null or absent: up to nextUpdate. */
  readonly maxCacheSeconds?: number | null;
  /** Called for every answered request (200 or 304). Must not throw for a routine failure. */
  readonly recordRead?: (read: CrlRead) => Promise<void> | void;
}

/** A relying party with no store behind it yet: nobody is registered. */
export const noRelyingParties: Pick<RelyingPartyAuthenticator, "byApiKey" | "byCertificateId"> = Object.freeze({
  byApiKey: async () => undefined,
  byCertificateId: async () => undefined,
});

/**
 * The relying-party access check of docs/api.md §3, for CRL (and OCSP) routes: in `registered` mode an
 * `Authorization: Bearer <api key>` of an active registered party, or (over HTTPS) a service-CA client
 * certificate of role `relying-party` whose CN is an active party; otherwise 401. Sets
 * `ctx.state.revocationReader`.
 */
export function requireRelyingParty(mode: RevocationAccessMode, parties: Pick<RelyingPartyAuthenticator, "byApiKey" | "byCertificateId">): Middleware {
  return async function relyingPartyAccess(ctx: Context, next: Next): Promise<void> {
    let reader: RevocationReader | undefined;
    const client = clientIdentityOf(ctx);
    if (client?.role === "relying-party") {
      const party = await parties.byCertificateId(client.id);
      if (party) reader = { partyId: party.id, via: "client-certificate" };
    }
    const key = reader ? undefined : bearerToken(ctx);
    if (key !== undefined) {
      const party = await parties.byApiKey(key);
      if (party) reader = { partyId: party.id, via: "api-key" };
    }
    if (!reader) {
      if (mode === "registered") {
        ctx.set("WWW-Authenticate", 'Bearer realm="jpki-revocation"');
        throw new CaError("unauthenticated", "revocation data is for registered relying parties: send Authorization: Bearer <api key> or a relying-party client certificate");
      }
      reader = { partyId: null, via: "none" };
    }
    stateOf(ctx).revocationReader = reader;
    await next();
  };
}

const FILE = /^(0|[1-9][0-9]{0,5})(-delta)?\.crl$/;

/** If-None-Match (RFC 9110 §13.1.2): `*` or a list of entity tags, weak comparison. */
function matchesEtag(header: string, etag: string): boolean {
  if (header.trim() === "*") return true;
  const strip = (t: string): string => t.trim().replace(/^W\//, "");
  return header.split(",").some((t) => strip(t) === strip(etag));
}

/** Caching headers (docs/api.md §3; RFC 5019 §6.2 style): fresh until nextUpdate, or the cap. */
function setCachingHeaders(ctx: Context, info: PublishedCrlInfo, now: Date, deps: CrlRouteDeps): void {
  const untilNext = Math.max(0, Math.floor((info.nextUpdate.getTime() - now.getTime()) / 1000));
  const maxAge = deps.maxCacheSeconds == null ? untilNext : Math.min(untilNext, deps.maxCacheSeconds);
  // Registered mode answers depend on the credential: shared caches must not hand them to others.
  ctx.set("Cache-Control", `${deps.access === "public" ? "public" : "private"}, no-transform, max-age=${maxAge}`);
  ctx.set("Expires", new Date(now.getTime() + maxAge * 1000).toUTCString());
  ctx.set("ETag", info.etag);
  ctx.set("Last-Modified", info.thisUpdate.toUTCString());
}

/**
 * docs/api.md §3: `GET /crl/{caId}/{partition}.crl` and `GET /crl/{caId}/{partition}-delta.crl` (DER,
 * `application/pkix-crl`), with Cache-Control/Expires up to nextUpdate, ETag, Last-Modified and 304 on
 * If-None-Match. Mounted outside /v1 through AppDeps.publicRouters.
 */
export function crlRoutes(deps: CrlRouteDeps) {
  return (openapi: OpenApiDocument): Router<ApiState> => {
    const router = new Router<ApiState>();
    // One route serves both files; the document lists them apart (a full and a delta CRL).
    router.get("/crl/:caId/:file", requireRelyingParty(deps.access, deps.relyingParties), async function answerCrl(ctx) {
      const caId = String(ctx.params.caId ?? "");
      const m = FILE.exec(String(ctx.params.file ?? ""));
      if (!parseCaId(caId) || !m) throw new CaError("not-found", "no such CRL");
      const ref = { caId: caId as CaId, partition: Number(m[1]) };
      const kind: CrlKind = m[2] ? "delta" : "full";
      const now = deps.clock.now();
      const ifNoneMatch = ctx.get("If-None-Match");
      // 304 without reading the DER (a partition CRL can be megabytes).
      const info = ifNoneMatch ? await deps.crls.published(ref, kind) : undefined;
      let body: Buffer | undefined;
      let current = info;
      if (!(info && matchesEtag(ifNoneMatch, info.etag))) {
        const crl = await deps.crls.publishedDer(ref, kind);
        if (!crl) throw new CaError("not-found", "no such CRL");
        current = crl.info;
        body = Buffer.from(crl.der.buffer, crl.der.byteOffset, crl.der.byteLength);
      }
      setCachingHeaders(ctx, current!, now, deps);
      if (body === undefined) {
        ctx.status = 304;
      } else {
        ctx.type = "application/pkix-crl";
        ctx.body = body;
      }
      if (deps.recordRead) {
        await deps.recordRead({ reader: revocationReaderOf(ctx), ...ref, kind, number: current!.number, at: now });
      }
    });
    for (const [path, summary] of [
      ["/crl/{caId}/{partition}.crl", "The partition's current full CRL (DER)"],
      ["/crl/{caId}/{partition}-delta.crl", "The partition's current delta CRL (DER)"],
    ] as const) {
      openapi.add("get", path, {
        summary,
        parameters: [
          { name: "caId", in: "path", required: true, description: "CA generation, e.g. sign-g1" },
          { name: "partition", in: "path", required: true, description: "partition number from the certificate's CRL distribution point" },
          { name: "Authorization", in: "header", description: "Bearer <relying-party API key> (registered mode)" },
          { name: "If-None-Match", in: "header" },
        ],
        responses: { "200": "application/pkix-crl", "304": "not modified", "401": "not a registered relying party", "404": "no such CRL" },
      });
    }
    return router;
  };
}

export interface CrlAdminRouteDeps {
  readonly scheduler: Pick<CrlScheduler, "runNow">;
  /** Operator session middleware (api/operator-session.ts requireOperator bound to OperatorAuth). */
  readonly requireOperator: (...roles: OperatorRole[]) => ApiMiddleware;
  readonly audit: Pick<AuditStore, "append">;
  readonly clock: Clock;
}

/** The answer of a run: per partition what was published. */
export function runReportBody(caId: CaId | null, report: RunReport): Record<string, unknown> {
  const count = (o: string): number => report.partitions.filter((p) => p.outcome === o).length;
  return {
    caId,
    startedAt: report.startedAt.toISOString(),
    finishedAt: report.finishedAt.toISOString(),
    issued: count("issued"),
    busy: count("busy"),
    failed: count("failed"),
    partitions: report.partitions.map((p) => ({
      caId: p.caId,
      partition: p.partition,
      outcome: p.outcome,
      ...(p.fullNumber !== undefined ? { fullCrlNumber: p.fullNumber, fullEntries: p.fullEntries } : {}),
      ...(p.deltaNumber !== undefined ? { deltaCrlNumber: p.deltaNumber, deltaEntries: p.deltaEntries } : {}),
      ...(p.error !== undefined ? { error: p.error } : {}),
    })),
  };
}

/** The `{caId}` of a CA generation, e.g. sign-g1; one that cannot exist is not found. */
const caIdParam = pathParam(
  z
    .string()
    .refine((v) => parseCaId(v) !== undefined)
    .transform((v) => v as CaId),
  () => new CaError("not-found", "no such CA generation"),
  "CA generation, e.g. sign-g1",
);

/** docs/api.md §7: `POST /v1/admin/crl/{caId}/run` (admin client certificate + ca-operator). Recorded in the audit log. */
export function crlAdminRoutes(deps: CrlAdminRouteDeps) {
  return (openapi: OpenApiDocument): Router<ApiState> => {
    const router = new Router<ApiState>();
    route(
      router,
      openapi,
      {
        method: "post",
        path: "/admin/crl/:caId/run",
        summary: "Issue a new full and delta CRL for every partition of a CA generation now",
        roles: ["admin", "ca-operator"],
        guard: adminOnly(deps, "ca-operator"),
        params: { caId: caIdParam },
        responses: { "200": "what each partition published", "401": "no operator session", "403": "not a ca-operator", "404": "unknown CA generation" },
      },
      async function runCrls(ctx, { params }) {
        const caId = params.caId;
        const operator = operatorOf(ctx);
        const report = await deps.scheduler.runNow(caId);
        const body = runReportBody(caId, report);
        await deps.audit.append({
          at: deps.clock.now(),
          action: "crl.run",
          actor: `operator:${operator.operatorId}`,
          subject: `ca:${caId}`,
          outcome: body.failed === 0 ? "success" : "failure",
          detail: { issued: body.issued, busy: body.busy, failed: body.failed },
        });
        ctx.body = body;
      },
    );
    return router;
  };
}
