import type { Context } from "koa";
import { CaError } from "../ca/errors.js";
import { parsePurpose, terminalScope, type AccessScope } from "../ca/access/resident-access.js";
import { stateOf } from "./api-state.js";

/**
 * The AccessScope of a request (ca/access/resident-access.ts) from what the middleware proved: a counter
 * terminal (requireActiveTerminal put its enrolled record in ctx.state.terminal) acts for its
 * municipality; an admin workstation acts CA-wide with `purpose`, which the caller takes from the
 * request (a query parameter, or the revocation's reason). Any other client gets no scope (403).
 */
export function accessScopeOf(ctx: Context, purpose: () => string): AccessScope {
  const { client, terminal } = stateOf(ctx);
  if (client?.role === "terminal") {
    // requireActiveTerminal runs before every terminal route; without it there is no scope (fail closed).
    if (terminal === undefined || terminal.terminalId !== client.id) throw new CaError("forbidden", "terminal is not enrolled");
    return terminalScope(terminal);
  }
  if (client?.role === "admin") return { kind: "ca-side", clientId: `admin:${client.id}`, purpose: purpose() };
  throw new CaError("forbidden", "this client certificate may not act on residents' data");
}

/** The `purpose` query parameter, once (CA-side reads: 告示334号 第4-4(7)). */
export function purposeQuery(ctx: Context): string {
  const raw = ctx.query.purpose;
  if (Array.isArray(raw)) throw new CaError("invalid-input", "purpose must be given once", { field: "purpose" });
  return parsePurpose(raw);
}
