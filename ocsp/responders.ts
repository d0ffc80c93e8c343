import { defaultAlgorithm } from "../ca/profiles/algorithms.js";
import type { Signer, SignatureAlgorithmName } from "../ca/ports.js";
import type { CaGenerationStore } from "../ca/stores.js";
import type { CaGeneration, CaId } from "../ca/types.js";
import { derContext, derOctetString, derSequence } from "../ca/x509/der.js";
import { parseIssuerCertificate } from "../ca/x509/issuer-certificate.js";
import { publicKeySpec } from "../ca/x509/public-key.js";
import { certIdDigest, certIdHashes, subjectPublicKeyBits, type CertId, type CertIdHash } from "./cert-id.js";
import type { ResponseSigner } from "./ocsp-response.js";

/**
 * The CA generations this responder answers for, each with its delegated responder (docs/domain.md §4: a
 * responder certificate per CA generation, key in the HSM).
 *
 * Generations share a DN, so a CertID is matched on the issuer name hash AND key hash (RFC 6960
 * §4.1.1), for SHA-1 and SHA-256. `reload()` re-reads the generations and swaps everything in one
 * assignment: a renewed responder certificate takes over for new responses without a restart, while
 * responses already signed stay valid (the old certificate still has ≥ 30 days).
 */

/** The delegated responder of one CA generation. */
export interface ResponderMaterial extends ResponseSigner {
  readonly certificate: Uint8Array;
  readonly keyUri: string;
  /** `[2] EXPLICIT OCTET STRING` SHA-1 of the responder key (ResponderID byKey, RFC 6960 §4.2.2.3). */
  readonly responderId: Uint8Array;
  readonly notAfter: Date;
}

export interface IssuerEntry {
  readonly caId: CaId;
  readonly status: CaGeneration["status"];
  /** DER of the CA certificate. */
  readonly caCertificate: Uint8Array;
  readonly issuerHashes: Readonly<Record<CertIdHash, { readonly name: Uint8Array; readonly key: Uint8Array }>>;
  readonly responder: ResponderMaterial;
}

/** Opens a Signer for a key in the HSM (Pkcs11Hsm.signer fits). */
export type SignerFactory = (keyUri: string, algorithm: SignatureAlgorithmName) => Promise<Signer>;

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
const matchKey = (hash: CertIdHash, name: Uint8Array, key: Uint8Array): string => `${hash}:${hex(name)}:${hex(key)}`;

export class OcspResponders {
  private byHashes = new Map<string, IssuerEntry>();
  private byCa = new Map<CaId, IssuerEntry>();
  /** Signers survive reloads: one per key URI. */
  private readonly signers = new Map<string, Signer>();

  constructor(
    private readonly deps: {
      readonly generations: Pick<CaGenerationStore, "list">;
      readonly signerFor: SignerFactory;
      /** Told about a generation that cannot answer (no responder certificate, key missing). */
      readonly onSkipped?: (caId: CaId, why: string) => void;
    },
  ) {}

  /** Re-reads the CA generations and their responders; the previous set keeps serving until it is swapped. */
  async reload(): Promise<void> {
    const byHashes = new Map<string, IssuerEntry>();
    const byCa = new Map<CaId, IssuerEntry>();
    for (const ca of await this.deps.generations.list()) {
      let entry: IssuerEntry;
      try {
        const made = await this.entryOf(ca);
        if (typeof made === "string") {
          this.deps.onSkipped?.(ca.id, made);
          continue;
        }
        entry = made;
      } catch (e) {
        this.deps.onSkipped?.(ca.id, (e as Error).message);
        continue;
      }
      byCa.set(ca.id, entry);
      for (const h of certIdHashes) byHashes.set(matchKey(h, entry.issuerHashes[h].name, entry.issuerHashes[h].key), entry);
    }
    this.byHashes = byHashes;
    this.byCa = byCa;
  }

  /** The CA generation a CertID names, by name hash and key hash. */
  match(certId: CertId): IssuerEntry | undefined {
    return this.byHashes.get(matchKey(certId.hash, certId.issuerNameHash, certId.issuerKeyHash));
  }

  get(caId: CaId): IssuerEntry | undefined {
    return this.byCa.get(caId);
  }

  entries(): IssuerEntry[] {
    return [...this.byCa.values()];
  }

  private async entryOf(ca: CaGeneration): Promise<IssuerEntry | string> {
    if (!ca.ocspResponderCertificate || !ca.ocspResponderKeyUri) return "no OCSP responder certificate";
    const issuer = parseIssuerCertificate(ca.certificate);
    const keyBits = subjectPublicKeyBits(issuer.subjectPublicKey);
    const issuerHashes = Object.fromEntries(
      certIdHashes.map((h) => [h, { name: certIdDigest(h, issuer.subject), key: certIdDigest(h, keyBits) }]),
    ) as unknown as IssuerEntry["issuerHashes"];
    const responderCert = parseIssuerCertificate(ca.ocspResponderCertificate);
    const algorithm = defaultAlgorithm(publicKeySpec(responderCert.subjectPublicKey));
    const cacheKey = `${ca.ocspResponderKeyUri}|${algorithm}`;
    let signer = this.signers.get(cacheKey);
    if (!signer) {
      signer = await this.deps.signerFor(ca.ocspResponderKeyUri, algorithm);
      this.signers.set(cacheKey, signer);
    }
    if (!Buffer.from(signer.publicKey).equals(Buffer.from(responderCert.subjectPublicKey))) {
      return "the responder key in the token does not match the responder certificate";
    }
    const responderKeyHash = certIdDigest("sha1", subjectPublicKeyBits(responderCert.subjectPublicKey));
    return {
      caId: ca.id,
      status: ca.status,
      caCertificate: ca.certificate,
      issuerHashes,
      responder: {
        signer,
        certificate: ca.ocspResponderCertificate,
        keyUri: ca.ocspResponderKeyUri,
        publicKey: responderCert.subjectPublicKey,
        responderId: derContext(2, derOctetString(responderKeyHash), true),
        certsDer: derContext(0, derSequence(ca.ocspResponderCertificate), true),
        notAfter: responderCert.notAfter,
      },
    };
  }
}
