import { canonicalJson } from "../canonical-json.js";
import { CaError } from "../errors.js";
import { parseResidentApplication, type ResidentApplication } from "../residents/resident-fields.js";
import { sha256Hex } from "../sha256.js";
import type { CaKind } from "../types.js";

/** One requested certificate of an issuance: its kind and the card-generated CSR (PEM or base64 DER). */
export interface RequestedCertificate {
  readonly kind: CaKind;
  readonly csr: string;
  /** The request's field path, for problems: `requests[1].csr`. */
  readonly field: string;
}

export interface IssuanceRequest {
  readonly application: ResidentApplication;
  /** Ordered: user-auth first, so the signing certificate can be capped by it (docs/domain.md §2). */
  readonly requests: readonly RequestedCertificate[];
  /** SHA-256 (hex) of the canonical body: an Idempotency-Key retry must carry the same one. */
  readonly bodySha256: string;
}

/** The top-level fields of docs/api.md §4 besides `requests`; anything else is refused (issue 12: strict schemas). */
const TOP_LEVEL_KEYS: ReadonlySet<string> = new Set(["municipalityCode", "applicationDate", "residentCode", "resident"]);

/**
 * Parses the body of `POST /v1/issuances` (docs/api.md §4). Unknown fields are refused at every level. Problems name the field, never echo a value
 * (docs/design.md invariant 6).
 */
export function parseIssuanceRequest(body: unknown, now: Date): IssuanceRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new CaError("invalid-input", "the body must be a JSON object", { field: "body" });
  const { requests, ...rest } = body as Record<string, unknown>;
  for (const key of Object.keys(rest)) {
    if (TOP_LEVEL_KEYS.has(key)) continue;
    // Name the unknown key only when it looks like a field name: a key is input too (invariant 6).
    if (/^[A-Za-z][A-Za-z0-9_]{0,40}$/.test(key)) throw new CaError("invalid-input", `${key} is not a known field`, { field: key });
    throw new CaError("invalid-input", "the body has a field that is not known", { field: "body" });
  }
  const application = parseResidentApplication(rest, now);
  if (!Array.isArray(requests) || requests.length === 0 || requests.length > 2) {
    throw new CaError("invalid-input", "must list one or two certificate requests", { field: "requests" });
  }
  const parsed: RequestedCertificate[] = requests.map((r: unknown, i) => {
    const field = `requests[${i}]`;
    if (typeof r !== "object" || r === null || Array.isArray(r)) throw new CaError("invalid-input", "must be an object", { field });
    const { kind, csr, ...extra } = r as Record<string, unknown>;
    if (Object.keys(extra).length > 0) throw new CaError("invalid-input", "has a field that is not known", { field });
    if (kind !== "sign" && kind !== "auth") throw new CaError("invalid-input", "kind must be sign or auth", { field: `${field}.kind` });
    if (typeof csr !== "string" || csr.length === 0) throw new CaError("invalid-input", "must be a PEM or base64 PKCS#10 request", { field: `${field}.csr` });
    return { kind, csr, field: `${field}.csr` };
  });
  if (parsed.length === 2 && parsed[0]?.kind === parsed[1]?.kind) throw new CaError("invalid-input", "each kind may be requested once", { field: "requests[1].kind" });
  parsed.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "auth" ? -1 : 1));
  return { application, requests: parsed, bodySha256: sha256Hex(canonicalJson(body)) };
}
