import { generateKeyPairSync } from "node:crypto";
import { buildClientCertificate } from "../../../ca/operators/service-ca.js";
import { pem } from "../../../ca/x509/pem.js";
import type { ClientCredentials, HttpAnswer } from "../../support/https-client.js";
import { requestJson } from "../../support/https-client.js";
import type { TestService } from "../../support/service-harness.js";

/** A client certificate of the running service's CA, and the TLS credentials presenting it. */
export interface MintedClient {
  readonly der: Uint8Array;
  readonly credentials: ClientCredentials;
}

/**
 * A certificate of the service CA (OU=`role`, CN=`id`) on a fresh P-256 key, as anyone holding the service
 * CA key (or a copy of one handed out) could make it: nothing registers it.
 */
export async function mintServiceClient(t: TestService, role: "admin" | "feed" | "terminal", id: string, serial: bigint): Promise<MintedClient> {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ca = t.service.serviceCa;
  const der = await buildClientCertificate({
    caCertificate: ca.certificate,
    caSigner: ca.signer,
    subjectPublicKey: new Uint8Array(publicKey.export({ type: "spki", format: "der" })),
    serial,
    notBefore: new Date(Date.now() - 60_000),
    role,
    id,
  });
  return { der, credentials: { ca: t.demo.tlsCa, cert: pem(der, "CERTIFICATE"), key: privateKey.export({ type: "pkcs8", format: "pem" }).toString() } };
}

/** `POST /v1/sessions` (operator login) over `tls`. */
export function loginOver(t: TestService, operatorId: string, password: string, tls: ClientCredentials): Promise<HttpAnswer> {
  return requestJson(`${t.httpsUrl}/v1/sessions`, "POST", { operatorId, password }, tls);
}
