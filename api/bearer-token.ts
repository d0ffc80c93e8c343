/**
 * The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1: the b64token syntax; the
 * scheme name is case-insensitive, RFC 9110 §11.1), or undefined when the header is absent or not a
 * bearer credential. One reader for the operator sessions (api/operator-session.ts) and the relying
 * parties' API keys on the CRL and OCSP routes.
 */
export function bearerTokenOf(header: string | undefined): string | undefined {
  return /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(header ?? "")?.[1];
}
