/**
 * Canonical JSON: object keys sorted (UTF-16 code unit order) at every depth, no whitespace, `undefined`
 * object members dropped. The same value always serialises to the same text, so it can be hashed: the
 * audit chain's entries (ca/audit/audit-chain.ts) and an issuance request's body for Idempotency-Key
 * retries (ca/issuance/issuance-request.ts).
 *
 * Meant for JSON-shaped values (what JSON.parse returns, plus `undefined` members): a `Date`, a Map or a
 * class instance is not converted through `toJSON` here; pass it through JSON first.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
