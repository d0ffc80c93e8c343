import type { CertStatusName, OcspResponseStatus } from "./ocsp-response.js";

/**
 * What the OCSP responder reports to monitoring; api/metrics.ts implements it with prom-client.
 * Boulder kept a histogram of response ages because stale answers, not errors, are what hurt
 * (letsencrypt/boulder issue 5626): alert on `oldestResponseAge` approaching the validity.
 */
export interface OcspMetrics {
  /** One answer per CertID (good / revoked / unknown), or one per request for an error status. */
  countResponse(status: CertStatusName | Exclude<OcspResponseStatus, "successful">): void;
  /** A single-CertID request without nonce found (true) or did not find (false) a fresh pre-signed response. */
  countPresignedLookup(hit: boolean): void;
  /** Seconds since thisUpdate of the oldest stored response of an unexpired certificate. */
  setOldestResponseAge(seconds: number): void;
  /** Live signatures running or waiting. */
  setSigningQueueDepth(depth: number): void;
  /**
   * A response signed, by cause (docs/ocsp.md "Demand-driven responses"): `first-request` (a request
   * found no fresh stored response), `status-change` (a revocation or hold of a stored response),
   * `refresh` (half-life, asked within the window), `live` (nonce or several CertIDs, never stored).
   */
  countSignature(purpose: SignaturePurpose): void;
  /** Responses stored (exact when few, the database's estimate when many). Optional: added with issue 13. */
  setStoredResponses?(count: number): void;
}

export type SignaturePurpose = "live" | "first-request" | "status-change" | "refresh";

export const noopOcspMetrics: OcspMetrics = Object.freeze({
  countResponse: () => undefined,
  countPresignedLookup: () => undefined,
  setOldestResponseAge: () => undefined,
  setSigningQueueDepth: () => undefined,
  countSignature: () => undefined,
  setStoredResponses: () => undefined,
});
