import * as pkijs from "pkijs";
import { CaError } from "../errors.js";
import { readName, type NameAttribute } from "../x509/name.js";

/**
 * Who a TLS client certificate of the internal service CA belongs to. The convention (written by
 * `clientSubject`, read by `parseClientIdentity`):
 *
 *   subject = C=JP, [L=<municipality code>,] O=JPKI CA Service, OU=<role>, CN=<id>
 *
 * - exactly one OU, one of `serviceRoles`: the machine role the API authorizes on;
 * - CN is the principal id (terminal id, workstation id, feed id, relying-party id);
 * - L, only on terminals, is the 6-digit local government code (全国地方公共団体コード) of the
 *   municipality the terminal stands in.
 *
 * The certificate chain must already have been verified against the service CA (TLS does that); this
 * only reads the name. Only certificates of the service CA carry this meaning.
 */
export const serviceRoles = ["terminal", "admin", "feed", "relying-party", "holder-portal"] as const;
export type ServiceRole = (typeof serviceRoles)[number];

/** The O of every certificate of the service CA. */
export const serviceOrganization = "JPKI CA Service";

export interface ClientIdentity {
  readonly role: ServiceRole;
  readonly id: string;
  readonly municipalityCode?: string;
}

const idPattern = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const municipalityPattern = /^[0-9]{6}$/;

function check(identity: ClientIdentity): void {
  if (!(serviceRoles as readonly string[]).includes(identity.role)) throw new CaError("invalid-input", "unknown client role", { field: "role" });
  if (!idPattern.test(identity.id)) throw new CaError("invalid-input", "client id must be 1–64 of [A-Za-z0-9._:-]", { field: "id" });
  if (identity.municipalityCode !== undefined && !municipalityPattern.test(identity.municipalityCode)) {
    throw new CaError("invalid-input", "municipality code must be 6 digits", { field: "municipalityCode" });
  }
}

/** The subject attributes of a client certificate for `identity`. */
export function clientSubject(identity: ClientIdentity): NameAttribute[] {
  check(identity);
  return [
    { type: "C", value: "JP" },
    ...(identity.municipalityCode === undefined ? [] : [{ type: "L", value: identity.municipalityCode }]),
    { type: "O", value: serviceOrganization },
    { type: "OU", value: identity.role },
    { type: "CN", value: identity.id },
  ];
}

/**
 * Reads role, id and municipality code back from a client certificate (DER or pkijs).
 * CaError "unauthenticated" when the subject does not follow the convention.
 */
export function parseClientIdentity(cert: Uint8Array | pkijs.Certificate): ClientIdentity {
  let attrs;
  try {
    const c = cert instanceof Uint8Array ? pkijs.Certificate.fromBER(cert.slice().buffer) : cert;
    attrs = readName(c.subject);
  } catch (cause) {
    throw new CaError("unauthenticated", "client certificate cannot be parsed", { cause });
  }
  const all = (type: string): string[] => attrs.filter((a) => a.type === type).map((a) => a.value);
  const [o, ou, cn, l] = [all("O"), all("OU"), all("CN"), all("L")];
  const role = ou[0];
  const id = cn[0];
  if (o.length !== 1 || o[0] !== serviceOrganization || ou.length !== 1 || cn.length !== 1 || l.length > 1) {
    throw new CaError("unauthenticated", "client certificate subject does not name a service principal");
  }
  const identity: ClientIdentity = l[0] === undefined ? { role: role as ServiceRole, id: id! } : { role: role as ServiceRole, id: id!, municipalityCode: l[0] };
  try {
    check(identity);
  } catch {
    throw new CaError("unauthenticated", "client certificate names an unknown role or a malformed id");
  }
  return identity;
}
