/**
 * Typed errors of the core. api/error-middleware.ts maps each kind to an HTTP status and an
 * RFC 7807 problem; nothing else in the code base knows about HTTP statuses.
 * Messages and `field` must never carry personal data (docs/design.md invariant 6).
 */
export type CaErrorKind =
  | "invalid-input" // 400: malformed request or field
  | "unprocessable" // 422: well-formed but refused by a profile rule
  | "unauthenticated" // 401
  | "forbidden" // 403
  | "not-found" // 404
  | "conflict" // 409
  | "locked" // 423
  | "rate-limited" // 429: too many attempts from this client certificate or source (Retry-After)
  | "payload-too-large" // 413
  | "unavailable" // 503: HSM or database not reachable
  | "internal"; // 500

export class CaError extends Error {
  readonly kind: CaErrorKind;
  /** The request field the problem is about, as a JSON pointer-ish path ("resident.gender"). */
  readonly field: string | undefined;
  constructor(kind: CaErrorKind, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CaError";
    this.kind = kind;
    this.field = options.field;
  }
}

export const isCaError = (e: unknown): e is CaError => e instanceof CaError;
