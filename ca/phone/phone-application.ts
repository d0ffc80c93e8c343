import { CaError } from "../errors.js";
import type { HolderSignedContent } from "../holder/holder-signed-request.js";
import { MAX_CSR_BYTES } from "../issuance/csr.js";

/** The purpose a phone application is signed for (docs/phone.md): never accepted for another request. */
export const PHONE_APPLICATION_PURPOSE = "phone-application";

/**
 * The signed content of a phone application: `{ purpose, signedAt, phoneId, csrs: { sign, auth } }`, each
 * CSR a PEM PKCS#10 request made by the phone's secure element. Nothing about the resident: the CA takes
 * the resident fields from its own record (docs/phone.md "Checks"); any other member is ignored.
 */
export interface PhoneApplication {
  /** An opaque id of the phone (its secure element), recorded with the certificates. */
  readonly phoneId: string;
  readonly csrs: { readonly sign: string; readonly auth: string };
}

/** The field a refusal about the content names (a JSON pointer into the signed content). */
export const applicationField = (member: string): string => `signedRequest.${member}`;

export function parsePhoneApplication(content: HolderSignedContent): PhoneApplication {
  const bad = (member: string, rule: string) => new CaError("invalid-input", `${member} ${rule}`, { field: applicationField(member) });
  const phoneId = content.phoneId;
  if (typeof phoneId !== "string" || !/^[A-Za-z0-9._:-]{1,128}$/.test(phoneId)) throw bad("phoneId", "must be 1 to 128 characters of A-Z a-z 0-9 . _ : -");
  const csrs = content.csrs as Record<string, unknown> | undefined;
  if (typeof csrs !== "object" || csrs === null) throw bad("csrs", "must be { sign, auth }");
  for (const kind of ["sign", "auth"] as const) {
    const csr = csrs[kind];
    if (typeof csr !== "string" || csr.length === 0 || csr.length > MAX_CSR_BYTES * 2) throw bad(`csrs.${kind}`, "must be a PEM certification request");
  }
  return { phoneId, csrs: { sign: csrs.sign as string, auth: csrs.auth as string } };
}
