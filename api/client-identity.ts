import type { TLSSocket } from "node:tls";
import type { Context, Next } from "koa";
import { CaError } from "../ca/errors.js";

/** Machine roles carried by service-CA client certificates in their OU (see ca/operators/service-ca.ts). */
export type ClientRole = "terminal" | "admin" | "feed" | "relying-party" | "holder-portal";
const clientRoles: readonly ClientRole[] = ["terminal", "admin", "feed", "relying-party", "holder-portal"];

export interface ClientIdentity {
  readonly role: ClientRole;
  /** The certificate's CN: terminal id, workstation id, feed id or relying-party id. */
  readonly id: string;
  /** Lower-case hex serial of the client certificate (for revocation checks). */
  readonly serial: string;
  readonly fingerprint256: string;
}

/**
 * The verified client certificate of this request, or undefined on the plain HTTP listener or
 * without one. The HTTPS listener already rejected certificates not issued by the service CA
 * (`requestCert` + `rejectUnauthorized`), so here we only read what the handshake proved.
 */
export function clientIdentityOf(ctx: Context): ClientIdentity | undefined {
  const socket = ctx.req.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== "function" || !socket.authorized) return undefined;
  const peer = socket.getPeerCertificate();
  if (!peer || !peer.subject) return undefined;
  const ou = first(peer.subject.OU);
  const cn = first(peer.subject.CN);
  if (!ou || !cn || !clientRoles.includes(ou as ClientRole)) return undefined;
  return { role: ou as ClientRole, id: cn, serial: peer.serialNumber.toLowerCase().replace(/^0+(?=.)/, ""), fingerprint256: peer.fingerprint256 };
}

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/** docs/api.md §7: nothing under /v1 answers without a client certificate of an allowed machine role. */
export function requireClient(...roles: ClientRole[]) {
  return async function requireClientCertificate(ctx: Context, next: Next): Promise<void> {
    const id = clientIdentityOf(ctx);
    if (!id) throw new CaError("unauthenticated", "a client certificate issued by the service CA is required");
    if (roles.length > 0 && !roles.includes(id.role)) throw new CaError("forbidden", `client certificate role ${id.role} may not use this route`);
    ctx.state.client = id;
    await next();
  };
}
