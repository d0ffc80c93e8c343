/**
 * A card's holder-signed request for tests (ca/holder/holder-signed-request.ts): a card-like
 * certificate with an RSA key (node:crypto key, node-forge certificate: a stand-in for what the CA
 * issued, stored as the certificate record's DER), and `openssl cms -sign` over the JSON content with
 * that key, as a holder's middleware would (RFC 5652 SignedData, signed attributes, signer certificate
 * included, issuerAndSerialNumber).
 */
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import forge from "node-forge";

export interface CardKeyPair {
  readonly serial: string;
  readonly der: Uint8Array;
  readonly certificatePem: string;
  readonly privateKey: KeyObject;
}

/** A certificate with `serial` (lower-case hex, first byte < 0x80) over a fresh RSA-2048 key. */
export function cardCertificate(serial: string, notBefore: Date, notAfter: Date, cn = "JPKI card test"): CardKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }).toString());
  cert.serialNumber = serial;
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ name: "commonName", value: cn }]);
  cert.setIssuer([{ name: "commonName", value: "JPKI test issuer" }]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: "pkcs1", format: "pem" }).toString()) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), "binary");
  return { serial, der: new Uint8Array(der), certificatePem: forge.pki.certificateToPem(cert), privateKey };
}

/** `openssl cms -sign` over UTF-8 JSON `content` with the card key: the base64 DER for `{signedRequest}`. */
export function signHolderRequest(card: CardKeyPair, content: Record<string, unknown>): string {
  const parent = resolve("var/test/holder-signing");
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, "run-"));
  try {
    const [cert, key, input, output] = ["card.pem", "card.key", "content.json", "request.der"].map((f) => join(dir, f)) as [string, string, string, string];
    writeFileSync(cert, card.certificatePem);
    writeFileSync(key, card.privateKey.export({ type: "pkcs8", format: "pem" }).toString(), { mode: 0o600 });
    writeFileSync(input, JSON.stringify(content));
    execFileSync("openssl", ["cms", "-sign", "-binary", "-nodetach", "-md", "sha256", "-outform", "DER", "-signer", cert, "-inkey", key, "-in", input, "-out", output], { stdio: ["ignore", "pipe", "pipe"] });
    return readFileSync(output).toString("base64");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
