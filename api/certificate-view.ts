import { z } from "zod";
import { CaError } from "../ca/errors.js";
import type { CertificateLink } from "../ca/linkage/certificate-links.js";
import type { CertificateRecord } from "../ca/types.js";
import { pem } from "../ca/x509/pem.js";
import { pathParam } from "./route-contract.js";

/**
 * certificateView with the linkage graph around the certificate (ca/linkage linksAround): serials and
 * link types only (docs/linkage.md).
 */
export function certificateViewWithLinks(cert: CertificateRecord, links: readonly CertificateLink[]): Record<string, unknown> {
  return { ...certificateView(cert), links: links.map((l) => ({ link: l.link, fromSerial: l.fromSerial, toSerial: l.toSerial })) };
}

/** The record and status of a certificate, as `GET /v1/certificates/{serial}` answers it. */
export function certificateView(cert: CertificateRecord): Record<string, unknown> {
  const answer = (cert.recorded.answer ?? {}) as Record<string, unknown>;
  return {
    ...answer,
    serialNumber: cert.serial,
    caId: cert.caId,
    kind: cert.kind,
    status: cert.status,
    partition: cert.partition,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    revokedAt: cert.revokedAt?.toISOString() ?? null,
    revocationReason: cert.revocationReason,
    invalidityDate: cert.invalidityDate?.toISOString() ?? null,
    issuanceId: cert.issuanceId,
    municipalityCode: cert.recorded.municipalityCode ?? null,
    applicationDate: cert.recorded.applicationDate ?? null,
    certificate: cert.der ? pem(cert.der, "CERTIFICATE") : null,
    device: cert.device,
  };
}

const SERIAL = /^[0-9a-f]{2,40}$/;
const invalidSerial = (): CaError => new CaError("invalid-input", "must be lower-case hex", { field: "serial" });

/** The `{serial}` path parameter of a route contract: hex, read in lower case (docs/api.md §0). */
export const serialPathParam = pathParam(
  z.string().transform((s) => s.toLowerCase()).pipe(z.string().regex(SERIAL)),
  invalidSerial,
  "the certificate's serial number, lower-case hex",
);

