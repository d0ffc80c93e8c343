/**
 * What every CA key must read back as from its token, whichever PKCS#11 implementation holds it
 * (docs/design.md: CA keys generated in the token, sensitive and non-extractable; sign only).
 */
export const CA_KEY_ATTRIBUTES = Object.freeze({
  token: true,
  private: true,
  sensitive: true,
  extractable: false,
  alwaysSensitive: true,
  neverExtractable: true,
  sign: true,
  decrypt: false,
  unwrap: false,
  derive: false,
});
