import { randomBytes } from "node:crypto";
import { hostname } from "node:os";

/**
 * The lease holder name of this process: host, pid and a random suffix, so a restarted process (same
 * pid on another boot, or a reused pid) is a new holder. No personal data.
 */
export function processHolderId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
}
