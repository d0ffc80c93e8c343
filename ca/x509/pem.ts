import { CaError } from "../errors.js";

/**
 * PEM (RFC 7468 §2): base64 of the DER between `-----BEGIN <label>-----` and `-----END <label>-----`,
 * 64 characters a line. Labels used here: "CERTIFICATE", "PRIVATE KEY", "PUBLIC KEY", "X509 CRL",
 * "CERTIFICATE REQUEST".
 */
export function pem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** The DER of every PEM block with `label` in `text`, in order. */
export function pemBlocks(text: string, label: string): Uint8Array[] {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*?)-----END ${label}-----`, "g");
  return [...text.matchAll(re)].map((m) => new Uint8Array(Buffer.from((m[1] ?? "").replace(/\s+/g, ""), "base64")));
}

/** The DER of the one PEM block with `label`; CaError "invalid-input" when there is none. */
export function fromPem(text: string, label: string): Uint8Array {
  const [first] = pemBlocks(text, label);
  if (first === undefined || first.length === 0) throw new CaError("invalid-input", `no PEM ${label} block`);
  return first;
}
