import { isCaError } from "../ca/errors.js";
import type { Clock } from "../ca/ports.js";
import type { StatusAfterExpiry } from "../ca/revocation/status-after-expiry.js";
import type { CaId } from "../ca/types.js";
import { decide, storedSerialForm } from "./certificate-status.js";
import type { OcspMetrics } from "./ocsp-metrics.js";
import { parseOcspRequest, OcspRequestError, type OcspRequest } from "./ocsp-request.js";
import { certStatusName, ocspErrorResponse, type CertStatusName, type OcspResponseStatus } from "./ocsp-response.js";
import type { CertificateStatusSource } from "../ca/revocation/ocsp-ports.js";
import type { PresignedResponses } from "./presigned-responses.js";
import type { IssuerEntry, OcspResponders } from "./responders.js";
import type { CachedResponse } from "./response-cache.js";
import type { ResponseMaker } from "./response-maker.js";
import { GateFullError, type SigningGate } from "./signing-gate.js";

/**
 * The one core call of the OCSP endpoint: request DER in, response DER out (RFC 6960 §4.2.1).
 *
 * - One CertID, no nonce (the RFC 5019 profile, nearly all traffic): the stored response, from
 *   memory or the database; when missing or past its nextUpdate, signed now through the gate, stored
 *   and cached (the first request of a certificate pays its signature: docs/ocsp.md). Requests that
 *   miss memory together share their database round trips (PresignedResponses.firstRequest).
 * - A nonce (RFC 8954) or several CertIDs: signed live, never stored.
 * - Live signatures pass the SigningGate; a full queue answers `tryLater`.
 * - An issuer we do not know (no generation matches name hash and key hash), or CertIDs of several
 *   generations in one request (no single delegated responder is authorised for all of them):
 *   `unauthorized` (RFC 6960 §2.3).
 * - Anything malformed or out of profile (hash other than SHA-1/SHA-256, > maxCertIds CertIDs, a bad
 *   nonce): `malformedRequest`. A failing database or HSM: `tryLater`; a CaError of ours: `internalError`.
 */
export interface OcspAnswer {
  readonly der: Buffer;
  readonly status: OcspResponseStatus;
  /** What was asked and answered, per CertID (empty when the request could not be read): the access log. */
  readonly certificates: ReadonlyArray<{ readonly serial: string; readonly caId: CaId | null; readonly answer: string }>;
  /** The pre-signed single response served, for RFC 5019 caching headers; undefined for live-only answers. */
  readonly cacheable: CachedResponse | undefined;
}

export interface OcspResponderLimits {
  /** Default 20. */
  readonly maxCertIds: number;
}

export interface OcspFailureLog {
  error(obj: Record<string, unknown>, msg: string): void;
}

const errorDer = (status: Exclude<OcspResponseStatus, "successful">): Buffer => {
  const der = ocspErrorResponse(status);
  return Buffer.from(der.buffer, der.byteOffset, der.byteLength);
};

/**
 * Requests read before, by their bytes: a relying party asks about the same certificate again and
 * again with the same DER (RFC 5019 §2.1: the GET URL is what HTTP caches key on), so the parse
 * (asn1js, about a fifth of the CPU of a pre-signed GET answer) is done once per distinct request.
 * Only requests without a nonce (a nonce makes every request unique). Bounded: emptied when full.
 */
const PARSED_REQUESTS_MAX = 100_000;

export class OcspResponder {
  private readonly parsed = new Map<string, OcspRequest>();

  constructor(
    private readonly deps: {
      readonly responders: Pick<OcspResponders, "match">;
      readonly presigned: PresignedResponses;
      readonly statuses: CertificateStatusSource;
      readonly maker: ResponseMaker;
      readonly gate: SigningGate;
      readonly metrics: OcspMetrics;
      readonly log: OcspFailureLog;
      readonly limits?: OcspResponderLimits;
      /** Status after expiry (docs/ocsp.md) for live answers read from the database, with the clock of the answer. */
      readonly afterExpiry?: { readonly policy: StatusAfterExpiry; readonly clock: Clock };
    },
  ) {}

  /**
   * A pre-signed response this responder served before for the very same request (the HTTP layer keeps
   * which): true, and counted as a pre-signed hit, when memory still holds exactly it and it is fresh;
   * false when a newer one replaced it (a revocation) or it aged, and the request must be answered anew.
   */
  stillServes(r: CachedResponse, nowMs?: number): boolean {
    if (!this.deps.presigned.isCurrent(r, nowMs)) return false;
    this.deps.presigned.noteRequested(r, nowMs);
    this.deps.metrics.countPresignedLookup(true);
    this.deps.metrics.countResponse(r.certStatus);
    return true;
  }

  /** An answer with an error status and nothing else (used by the HTTP layer too: oversized body, no credential). */
  errorAnswer(status: Exclude<OcspResponseStatus, "successful">, request?: OcspRequest): OcspAnswer {
    this.deps.metrics.countResponse(status);
    return {
      der: errorDer(status),
      status,
      certificates: (request?.certIds ?? []).map((c) => ({ serial: c.serialHex, caId: null, answer: status })),
      cacheable: undefined,
    };
  }

  async answer(der: Uint8Array): Promise<OcspAnswer> {
    const memoKey = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("latin1");
    let request = this.parsed.get(memoKey);
    if (request === undefined) {
      try {
        request = parseOcspRequest(der, { maxCertIds: this.deps.limits?.maxCertIds ?? 20 });
      } catch (e) {
        if (e instanceof OcspRequestError) return this.errorAnswer(e.status);
        throw e;
      }
      if (request.nonce === undefined) {
        if (this.parsed.size >= PARSED_REQUESTS_MAX) this.parsed.clear();
        this.parsed.set(memoKey, request);
      }
    }
    const entry = this.deps.responders.match(request.certIds[0]!);
    if (entry === undefined || request.certIds.some((c) => this.deps.responders.match(c) !== entry)) return this.errorAnswer("unauthorized", request);
    try {
      return await this.answerFor(entry, request);
    } catch (e) {
      if (e instanceof GateFullError) return this.errorAnswer("tryLater", request);
      // A database or HSM that fails (driver errors, CaError "unavailable") is worth a retry: tryLater.
      // A CaError of another kind is a fault of ours: internalError.
      const kind = isCaError(e) ? e.kind : undefined;
      // No request data in the log: only the error class and kind (docs/design.md invariant 6).
      this.deps.log.error({ err: (e as Error)?.name, kind, caId: entry.caId }, "OCSP answer failed");
      return this.errorAnswer(kind === undefined || kind === "unavailable" ? "tryLater" : "internalError", request);
    }
  }

  private async answerFor(entry: IssuerEntry, request: OcspRequest): Promise<OcspAnswer> {
    const { presigned, metrics, gate } = this.deps;
    const only = request.certIds.length === 1 ? request.certIds[0]! : undefined;
    if (only !== undefined && request.nonce === undefined && only.canonical) {
      const hit = presigned.cached(entry, only.hash, only.serialHex);
      if (hit !== undefined) metrics.countPresignedLookup(true);
      const r = hit ?? (await presigned.firstRequest(entry, only.hash, only.serialHex, (w) => gate.run(w)));
      metrics.countResponse(r.certStatus);
      return { der: r.der, status: "successful", certificates: [{ serial: only.serialHex, caId: entry.caId, answer: r.certStatus }], cacheable: r };
    }
    // Live: echo each CertID byte for byte, and the nonce. The status comes from a fresh response in
    // memory when there is one (as current as the pre-signed answers), else from the database.
    const known = request.certIds.map((c) => presigned.peekStatus(entry, c.serialHex));
    const missing = request.certIds.flatMap((c, i) => {
      const serial = known[i] === undefined ? storedSerialForm(c.serialHex) : undefined;
      return serial === undefined ? [] : [serial];
    });
    const snapshots = missing.length > 0 ? await this.deps.statuses.statuses([...new Set(missing)]) : new Map();
    const expiry = this.deps.afterExpiry && { afterExpiry: this.deps.afterExpiry.policy, now: this.deps.afterExpiry.clock.now() };
    const items = request.certIds.map((c, i) => {
      const hit = known[i];
      if (hit !== undefined) return { certId: c.der, status: hit.status, provisional: hit.provisional };
      const serial = storedSerialForm(c.serialHex);
      const decision = decide(serial === undefined ? undefined : snapshots.get(serial), entry.caId, expiry);
      return { certId: c.der, status: decision.status, provisional: decision.provisional, statusUntil: decision.statusUntil };
    });
    const signed = await gate.run(() => this.deps.maker.sign(entry, items, request.nonce, true));
    metrics.countSignature("live");
    const answers: CertStatusName[] = items.map((i) => certStatusName(i.status));
    for (const a of answers) metrics.countResponse(a);
    return {
      der: Buffer.from(signed.der.buffer, signed.der.byteOffset, signed.der.byteLength),
      status: "successful",
      certificates: request.certIds.map((c, i) => ({ serial: c.serialHex, caId: entry.caId, answer: answers[i]! })),
      cacheable: undefined,
    };
  }
}
