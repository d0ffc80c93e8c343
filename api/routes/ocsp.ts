import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import Router from "@koa/router";
import type { Context } from "koa";
import type { Clock } from "../../ca/ports.js";
import type { RelyingPartyAuthenticator } from "../../ca/relying-parties/relying-party.js";
import type { AccessRecorder } from "../../ocsp/access-recorder.js";
import { decodeGetRequest, OcspRequestError } from "../../ocsp/ocsp-request.js";
import type { OcspAnswer, OcspResponder } from "../../ocsp/ocsp-responder.js";
import type { CachedResponse } from "../../ocsp/response-cache.js";
import type { CachedRelyingPartyAuthenticator } from "../../ocsp/relying-party-cache.js";
import type { OcspAccessRecord } from "../../ca/revocation/ocsp-ports.js";
import { bearerTokenOf } from "../bearer-token.js";
import { clientIdentityOf, type ClientIdentity } from "../client-identity.js";
import type { OpenApiDocument } from "../openapi.js";
import { readRequestBody } from "../request-body.js";

/**
 * docs/api.md §3 OCSP endpoints: `POST /ocsp` (application/ocsp-request) and `GET /ocsp/{base64 DER}`
 * (RFC 6960 Appendix A). Every answer is an OCSPResponse with HTTP 200, errors included
 * (malformedRequest, unauthorized, tryLater …): OCSP clients read the response status, not HTTP's.
 *
 * Access (docs/api.md §3):
 * - `registered` (default): `Authorization: Bearer <API key>` of a registered relying party, or a
 *   service-CA client certificate with OU=relying-party over HTTPS; otherwise `unauthorized`. Every
 *   answer to a party is recorded (party, serial, time) through the batching AccessRecorder; when it
 *   cannot take more, the answer is `tryLater`.
 * - `public`: no credential, nothing recorded.
 *
 * RFC 5019 §6: a GET answered with a stored single response (no nonce) carries
 * `Cache-Control: max-age=<seconds to nextUpdate, at most maxCacheSeconds>`, `ETag`, `Last-Modified`
 * (thisUpdate) and `Expires` (the same bound), and `If-None-Match` gets a 304. In registered mode the cache is `private`: a shared
 * cache would answer parties without credentials and without a record. Everything else is `no-store`.
 *
 * The logic lives in `OcspHttp` (no Koa), used by the Koa routes and by `ocspFastPath`, which answers
 * `GET /ocsp/…` before Koa for the listeners (about half the CPU per response: docs/ocsp.md).
 */
export interface OcspRouteDeps {
  readonly responder: Pick<OcspResponder, "answer" | "errorAnswer" | "stillServes">;
  readonly recorder: Pick<AccessRecorder, "record" | "hasRoom">;
  readonly access: {
    readonly mode: "registered" | "public";
    /** With the `peek…` methods (ocsp/relying-party-cache.ts), a known party's repeats take the hot path too. */
    readonly parties: Pick<RelyingPartyAuthenticator, "byApiKey" | "byCertificateId"> & Partial<Pick<CachedRelyingPartyAuthenticator, "peekApiKey" | "peekCertificateId">>;
  };
  readonly clock: Clock;
  /** Largest request accepted, in bytes (POST body, decoded GET). Default 32 KiB. */
  readonly maxRequestBytes?: number;
  /** CertIDs per request (the responder's limit): room reserved in the access log per request. Default 20. */
  readonly maxCertIds?: number;
  /**
   * Upper bound of `Cache-Control: max-age` (and `Expires`), whatever the response's nextUpdate
   * (`ocsp.maxCacheSeconds`, default 3600): no HTTP cache serves a superseded "good" longer than this
   * after a revocation. Default 3600.
   */
  readonly maxCacheSeconds?: number;
}

/** Default of `maxCacheSeconds`: one hour (docs/ocsp.md "HTTP caching"). */
export const DEFAULT_OCSP_MAX_CACHE_SECONDS = 3600;

const OCSP_RESPONSE = "application/ocsp-response";
const GET_PREFIX = "/ocsp/";

/** An OCSP request as the HTTP layer sees it. */
export interface OcspHttpRequest {
  readonly method: "GET" | "POST";
  /** GET: the raw path (not URL-decoded); POST: the body, or "too-large". */
  readonly path?: string;
  readonly body?: Uint8Array | "too-large";
  readonly authorization: string | undefined;
  readonly ifNoneMatch: string | undefined;
  /** The verified client certificate (HTTPS), if any. */
  readonly client: ClientIdentity | undefined;
}

export interface OcspHttpAnswer {
  readonly status: 200 | 304;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | undefined;
}

/**
 * A GET path answered before with a pre-signed response, and the headers it was sent with (rendered
 * again once a second, for max-age).
 */
interface Repeat {
  readonly response: CachedResponse;
  headers: Readonly<Record<string, string>>;
  second: number;
}

/** GET paths remembered for `repeat` (emptied when full). */
const REPEATS_MAX = 100_000;

/** The OCSP endpoint without a web framework: request in, status + headers + body out. */
export class OcspHttp {
  private readonly maxBytes: number;
  private readonly reserve: number;
  private readonly registered: boolean;
  private readonly cacheVisibility: string;
  private readonly maxCacheSeconds: number;
  private readonly repeats = new Map<string, Repeat>();

  /** @param remember keep GET paths for `repeat` (the fast path does; the Koa routes do not) */
  constructor(
    private readonly deps: OcspRouteDeps,
    private readonly remember = false,
  ) {
    this.maxBytes = deps.maxRequestBytes ?? 32 * 1024;
    this.reserve = deps.maxCertIds ?? 20;
    this.registered = deps.access.mode === "registered";
    this.cacheVisibility = this.registered ? "private" : "public";
    this.maxCacheSeconds = deps.maxCacheSeconds ?? DEFAULT_OCSP_MAX_CACHE_SECONDS;
    if (!Number.isInteger(this.maxCacheSeconds) || this.maxCacheSeconds < 0) throw new RangeError("maxCacheSeconds must be a non-negative integer");
  }

  get maxRequestBytes(): number {
    return this.maxBytes;
  }

  /**
   * The hot path of GETs: the same URL answered before with a pre-signed response that memory still
   * holds (not replaced by a revocation, not aged) is answered again without decoding, parsing or
   * matching the request; the complete answer, Content-Length included. In registered mode only for
   * a party the relying-party cache knows without a lookup, with room in the access log; the answer
   * is recorded like any other. Undefined: use `handle` (which also refuses what is refused).
   */
  repeat(req: OcspHttpRequest): OcspHttpAnswer | undefined {
    if (req.path === undefined || req.ifNoneMatch !== undefined) return undefined;
    const r = this.repeats.get(req.path);
    if (r === undefined) return undefined;
    let party: string | undefined;
    if (this.registered) {
      party = this.knownParty(req);
      if (party === undefined || !this.deps.recorder.hasRoom(1)) return undefined;
    }
    const now = this.deps.clock.now().getTime();
    if (!this.deps.responder.stillServes(r.response, now)) {
      this.repeats.delete(req.path);
      return undefined;
    }
    if (party !== undefined) {
      const c = r.response;
      this.deps.recorder.record([{ at: new Date(now), party, serial: c.serial, caId: c.caId, answer: c.certStatus }]);
    }
    const second = Math.floor(now / 1000);
    if (second !== r.second) {
      r.headers = { ...this.cacheHeaders(r.response, now), "Content-Type": OCSP_RESPONSE, "Content-Length": String(r.response.der.length) };
      r.second = second;
    }
    return { status: 200, headers: r.headers, body: r.response.der };
  }

  async handle(req: OcspHttpRequest): Promise<OcspHttpAnswer> {
    let request: Uint8Array | OcspRequestError;
    if (req.method === "GET") {
      const encoded = (req.path ?? "").slice(GET_PREFIX.length);
      try {
        request = decodeGetRequest(encoded, this.maxBytes);
      } catch (e) {
        if (!(e instanceof OcspRequestError)) throw e;
        request = e;
      }
    } else {
      request = req.body === undefined || req.body === "too-large" ? new OcspRequestError("malformedRequest", "request too large") : req.body;
    }
    const { deps } = this;
    let party: string | undefined;
    let result: OcspAnswer;
    let lookupFailed = false;
    if (this.registered) {
      try {
        party = await this.partyOf(req);
      } catch {
        lookupFailed = true; // relying-party store unreachable: worth a retry
      }
    }
    if (lookupFailed) {
      result = deps.responder.errorAnswer("tryLater");
    } else if (this.registered && party === undefined) {
      result = deps.responder.errorAnswer("unauthorized");
    } else if (party !== undefined && !deps.recorder.hasRoom(this.reserve)) {
      result = deps.responder.errorAnswer("tryLater"); // cannot record, so no answer (docs/api.md §3)
    } else {
      result = request instanceof OcspRequestError ? deps.responder.errorAnswer(request.status) : await deps.responder.answer(request);
    }
    if (party !== undefined) {
      const at = deps.clock.now();
      const records: OcspAccessRecord[] =
        result.certificates.length > 0
          ? result.certificates.map((c) => ({ at, party: party!, serial: c.serial, caId: c.caId, answer: c.answer }))
          : [{ at, party, serial: null, caId: null, answer: result.status }];
      deps.recorder.record(records);
    }
    if (this.remember && req.method === "GET" && req.path !== undefined && result.cacheable !== undefined) {
      if (this.repeats.size >= REPEATS_MAX) this.repeats.clear();
      this.repeats.set(req.path, { response: result.cacheable, headers: {}, second: -1 });
    }
    return this.render(result, req);
  }

  /**
   * The party as the relying-party cache knows it without a lookup, in the order of `partyOf`;
   * undefined when that takes a lookup or the request has no party (`handle` decides then).
   */
  private knownParty(req: OcspHttpRequest): string | undefined {
    const { parties } = this.deps.access;
    if (req.client?.role === "relying-party") {
      const party = parties.peekCertificateId?.(req.client.id);
      if (party === undefined) return undefined;
      if (party !== null) return party.id;
    }
    const key = bearerTokenOf(req.authorization);
    return key === undefined ? undefined : (parties.peekApiKey?.(key)?.id ?? undefined);
  }

  /**
   * The party, or undefined: then registered mode answers `unauthorized`. Same order as the CRL
   * routes: a relying-party client certificate (HTTPS), else `Authorization: Bearer <API key>`.
   */
  private async partyOf(req: OcspHttpRequest): Promise<string | undefined> {
    if (req.client?.role === "relying-party") {
      const party = await this.deps.access.parties.byCertificateId(req.client.id);
      if (party) return party.id;
    }
    const key = bearerTokenOf(req.authorization);
    return key === undefined ? undefined : (await this.deps.access.parties.byApiKey(key))?.id;
  }

  /**
   * RFC 5019 §6 headers of a stored response. max-age is the time to nextUpdate, capped at
   * `maxCacheSeconds` (§6.2 asks only that it not exceed nextUpdate): a revocation reaches clients
   * behind an HTTP cache within the cap, not within the response's validity. Expires says the same.
   */
  private cacheHeaders(c: CachedResponse, now: number): Record<string, string> {
    const maxAge = Math.max(0, Math.min(this.maxCacheSeconds, Math.floor((c.nextUpdate.getTime() - now) / 1000)));
    const expires = maxAge === this.maxCacheSeconds ? new Date(Math.floor(now / 1000) * 1000 + maxAge * 1000).toUTCString() : c.expires;
    return {
      "Cache-Control": `max-age=${maxAge}, ${this.cacheVisibility}, no-transform, must-revalidate`,
      ETag: c.etag,
      "Last-Modified": c.lastModified,
      Expires: expires,
    };
  }

  private render(result: OcspAnswer, req: OcspHttpRequest): OcspHttpAnswer {
    const c = result.cacheable;
    if (req.method === "GET" && c !== undefined) {
      const headers = this.cacheHeaders(c, this.deps.clock.now().getTime());
      if (req.ifNoneMatch === c.etag) return { status: 304, headers, body: undefined };
      return { status: 200, headers: { ...headers, "Content-Type": OCSP_RESPONSE }, body: result.der };
    }
    const headers: Record<string, string> = { "Cache-Control": "no-store", "Content-Type": OCSP_RESPONSE };
    if (req.body === "too-large") headers.Connection = "close"; // the rest of the body is not read
    return { status: 200, headers, body: result.der };
  }
}

const requestOf = (ctx: Context, method: "GET" | "POST", body?: Uint8Array | "too-large"): OcspHttpRequest => ({
  method,
  path: ctx.path,
  ...(body !== undefined ? { body } : {}),
  authorization: ctx.get("Authorization") || undefined,
  ifNoneMatch: ctx.get("If-None-Match") || undefined,
  client: clientIdentityOf(ctx),
});

/** The Koa routes (docs/api.md §3), documented in the OpenAPI document. */
export function ocspRoutes(deps: OcspRouteDeps): (openapi: OpenApiDocument) => Router {
  const http = new OcspHttp(deps);
  const send = (ctx: Context, a: OcspHttpAnswer): void => {
    ctx.set(a.headers);
    ctx.status = a.status;
    if (a.body !== undefined) ctx.body = a.body;
  };
  return (openapi) => {
    const router = new Router();
    const get = async (ctx: Context): Promise<void> => send(ctx, await http.handle(requestOf(ctx, "GET")));
    router.get("/ocsp/*request", get);
    router.get("/ocsp/", get);
    const post = async (ctx: Context): Promise<void> => send(ctx, await http.handle(requestOf(ctx, "POST", await readRequestBody(ctx.req, http.maxRequestBytes))));
    router.post("/ocsp", post);
    router.post("/ocsp/", post);

    const responses = { "200": "an OCSPResponse (application/ocsp-response), whatever its responseStatus" };
    const roles = deps.access.mode === "registered" ? ["relying-party"] : undefined;
    openapi.add("post", "/ocsp", { summary: "OCSP request (RFC 6960 Appendix A.1), body application/ocsp-request", ...(roles ? { roles } : {}), responses });
    openapi.add("get", "/ocsp/{request}", {
      summary: "OCSP request by GET (RFC 5019): base64 DER, URL-encoded; cacheable answers carry RFC 5019 headers",
      ...(roles ? { roles } : {}),
      parameters: [{ name: "request", in: "path", required: true, description: "URL-encoded base64 of the DER OCSPRequest" }],
      responses: { ...responses, "304": "If-None-Match matched the ETag" },
    });
    return router;
  };
}

/**
 * `GET /ocsp/…` answered straight on Node's http server, before Koa: the pre-signed path is a map
 * lookup, and Koa's context, middleware and routers cost as much again (docs/ocsp.md). Everything
 * else goes to `next` (the Koa app's callback). `onAnswered` is told the HTTP status of each answer
 * (the request counter the Koa app keeps for its own routes).
 *
 *   http.createServer(ocspFastPath(deps, app.callback(), (s) => metrics.countOcspGet(s)))
 */
export function ocspFastPath(deps: OcspRouteDeps, next: RequestListener, onAnswered?: (status: number) => void): RequestListener {
  const http = new OcspHttp(deps, true);
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? "";
    if (req.method !== "GET" || !url.startsWith(GET_PREFIX) || url.length === GET_PREFIX.length) {
      next(req, res);
      return;
    }
    const q = url.indexOf("?");
    const request: OcspHttpRequest = {
      method: "GET",
      path: q < 0 ? url : url.slice(0, q),
      authorization: req.headers.authorization,
      ifNoneMatch: req.headers["if-none-match"],
      // clientIdentityOf reads only ctx.req.socket (the TLS handshake's verified peer certificate).
      client: clientIdentityOf({ req } as unknown as Context),
    };
    const again = http.repeat(request);
    if (again !== undefined) {
      res.writeHead(200, again.headers);
      res.end(again.body);
      onAnswered?.(200);
      return;
    }
    http.handle(request).then(
      (a) => {
        res.writeHead(a.status, a.body === undefined ? a.headers : { ...a.headers, "Content-Length": String(a.body.length) });
        res.end(a.body);
        onAnswered?.(a.status);
      },
      () => {
        // The responder turns its own failures into OCSP statuses; this is a bug: internalError, no detail.
        const der = Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x02]);
        res.writeHead(200, { "Content-Type": OCSP_RESPONSE, "Content-Length": "5", "Cache-Control": "no-store" });
        res.end(der);
        onAnswered?.(200);
      },
    );
  };
}
