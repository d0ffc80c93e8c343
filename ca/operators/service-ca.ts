import { clientSubject, serviceOrganization, type ClientIdentity } from "./client-identity.js";
import { CaError } from "../errors.js";
import { systemClock, type Clock, type Signer } from "../ports.js";
import {
  authorityKeyIdentifierExtension,
  basicConstraintsExtension,
  extKeyUsageExtension,
  keyIdentifier,
  keyUsageExtension,
  subjectAltNameExtension,
  subjectKeyIdentifierExtension,
  type GeneralNameInput,
  type KeyUsageName,
} from "../x509/extensions.js";
import { notAfterWithinIssuer, parseIssuerCertificate } from "../x509/issuer-certificate.js";
import { encodeName, type NameAttribute } from "../x509/name.js";
import { publicKeySpec } from "../x509/public-key.js";
import { signCertificate } from "../x509/signed-certificate.js";
import { buildTbsCertificate } from "../x509/tbs-certificate.js";
import type { SerialInput } from "../x509/serial-number.js";
import { addYearsJst, endOfJstDay, truncateToSecond } from "../x509/time.js";

/**
 * The internal service CA for mutual TLS (告示334号 第4-3: mutual authentication of communicating
 * machines). It is separate from the JPKI CAs: it never signs JPKI certificates, and JPKI CA keys never
 * sign TLS certificates. It issues the HTTPS listener's server certificate and the client certificates
 * of terminals, admin workstations, the resident feed and relying parties (role in OU: see
 * client-identity.ts).
 */

export const defaultServiceCaSubject: readonly NameAttribute[] = Object.freeze([
  { type: "C", value: "JP" },
  { type: "O", value: serviceOrganization },
  { type: "CN", value: "JPKI CA Service TLS CA" },
]);

export interface ServiceCaInput {
  /** The service CA key (self-signed: also the subject key). */
  readonly signer: Signer;
  readonly serial: SerialInput;
  readonly notBefore?: Date;
  readonly clock?: Clock;
  /** Default 10. */
  readonly validityYears?: number;
  readonly subject?: readonly NameAttribute[];
}

/** Common input of the certificates the service CA issues. */
export interface ServiceLeafInput {
  /** DER of the service CA certificate. */
  readonly caCertificate: Uint8Array;
  readonly caSigner: Signer;
  /** DER SubjectPublicKeyInfo of the server or client key. */
  readonly subjectPublicKey: Uint8Array;
  readonly serial: SerialInput;
  readonly notBefore?: Date;
  readonly clock?: Clock;
  /** Default 397; clamped to the service CA's notAfter. */
  readonly validityDays?: number;
}

export interface ServerCertificateInput extends ServiceLeafInput {
  /** e.g. ["localhost"]. */
  readonly dnsNames: readonly string[];
  /** e.g. ["127.0.0.1", "::1"]. */
  readonly ips: readonly string[];
  /** Default: the first DNS name, else the first IP. */
  readonly commonName?: string;
}

export interface ClientCertificateInput extends ServiceLeafInput, ClientIdentity {}

/**
 * Self-signed service CA: basicConstraints critical cA with pathLenConstraint 0 (it issues leaves only),
 * keyUsage critical keyCertSign + cRLSign, SKI, AKI = SKI.
 */
export async function buildServiceCaCertificate(input: ServiceCaInput): Promise<Uint8Array> {
  const years = input.validityYears ?? 10;
  if (!Number.isInteger(years) || years < 1) throw new CaError("invalid-input", "validityYears must be 1 or more");
  publicKeySpec(input.signer.publicKey); // refuses unsupported keys early
  const notBefore = truncateToSecond(input.notBefore ?? (input.clock ?? systemClock).now());
  const name = encodeName(input.subject ?? defaultServiceCaSubject);
  const tbs = buildTbsCertificate({
    serial: input.serial,
    issuer: name,
    subject: name,
    notBefore,
    notAfter: endOfJstDay(addYearsJst(notBefore, years)),
    subjectPublicKey: input.signer.publicKey,
    extensions: [
      basicConstraintsExtension({ ca: true, pathLength: 0, critical: true }),
      keyUsageExtension(["keyCertSign", "cRLSign"], true),
      subjectKeyIdentifierExtension(input.signer.publicKey),
      authorityKeyIdentifierExtension(keyIdentifier(input.signer.publicKey)),
    ],
  });
  return signCertificate(tbs, input.signer);
}

/** TLS server certificate: EKU serverAuth, SAN dNSName + iPAddress entries. */
export async function buildServerCertificate(input: ServerCertificateInput): Promise<Uint8Array> {
  const san: GeneralNameInput[] = [
    ...input.dnsNames.map((value): GeneralNameInput => ({ type: "dNSName", value })),
    ...input.ips.map((value): GeneralNameInput => ({ type: "iPAddress", value })),
  ];
  if (san.length === 0) throw new CaError("invalid-input", "a server certificate needs a DNS name or an IP address");
  const cn = input.commonName ?? input.dnsNames[0] ?? input.ips[0]!;
  const subject: NameAttribute[] = [
    { type: "C", value: "JP" },
    { type: "O", value: serviceOrganization },
    { type: "CN", value: cn },
  ];
  return issueLeaf(input, subject, "serverAuth", [subjectAltNameExtension(san, false)]);
}

/** TLS client certificate: EKU clientAuth, subject `C=JP, [L=code,] O=JPKI CA Service, OU=<role>, CN=<id>`. */
export async function buildClientCertificate(input: ClientCertificateInput): Promise<Uint8Array> {
  const identity: ClientIdentity =
    input.municipalityCode === undefined
      ? { role: input.role, id: input.id }
      : { role: input.role, id: input.id, municipalityCode: input.municipalityCode };
  return issueLeaf(input, clientSubject(identity), "clientAuth", []);
}

async function issueLeaf(
  input: ServiceLeafInput,
  subject: readonly NameAttribute[],
  purpose: "serverAuth" | "clientAuth",
  more: ReturnType<typeof subjectAltNameExtension>[],
): Promise<Uint8Array> {
  const days = input.validityDays ?? 397;
  if (!Number.isInteger(days) || days < 1) throw new CaError("invalid-input", "validityDays must be 1 or more");
  const ca = parseIssuerCertificate(input.caCertificate);
  const notBefore = truncateToSecond(input.notBefore ?? (input.clock ?? systemClock).now());
  const notAfter = notAfterWithinIssuer(notBefore, days, ca.notAfter, "service CA");
  // RSA keys may be used for TLS 1.2 RSA key transport; EC keys only sign (RFC 5480 §3).
  const usages: KeyUsageName[] =
    publicKeySpec(input.subjectPublicKey).type === "rsa" ? ["digitalSignature", "keyEncipherment"] : ["digitalSignature"];
  const tbs = buildTbsCertificate({
    serial: input.serial,
    issuer: ca.subject,
    subject: encodeName(subject),
    notBefore,
    notAfter,
    subjectPublicKey: input.subjectPublicKey,
    extensions: [
      keyUsageExtension(usages, true),
      extKeyUsageExtension([purpose], false),
      ...more,
      authorityKeyIdentifierExtension(ca.keyIdentifier),
      subjectKeyIdentifierExtension(input.subjectPublicKey),
    ],
  });
  return signCertificate(tbs, input.caSigner, { issuerPublicKey: ca.subjectPublicKey });
}
