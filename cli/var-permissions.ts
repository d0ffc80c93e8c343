import { existsSync } from "node:fs";
import { restrictTreeToOwner } from "../db/owner-only-files.js";

/**
 * The start-up check of the generated state (issue 12; 告示334号 第4-5(1): keys and personal data
 * strictly protected): everything under the var dir — the embedded database, SoftHSM token, TLS keys,
 * demo credentials — must be owner-only (directories 0700, files 0600).
 *
 * Policy: **repair with a warning, refuse what cannot be repaired.** A group- or other-accessible path is
 * made owner-only and named in one warning line (paths of generated state carry no personal data);
 * a path that cannot be changed (owned by another user) stops the service with a message naming it.
 * Refusing outright would only make the operator run the same chmod by hand, and the window in which
 * the files were open is already past when the service starts.
 *
 * Two deliberate exceptions, both for the test services of scripts/services.sh, whose PostgreSQL runs
 * as user `postgres` and keeps its data under `<varDir>/test`:
 * - the `test` subtree is not walked (the service never writes there; PostgreSQL keeps its own 0700);
 * - on the var dir itself, search permission alone (x for group/other) is tolerated: it lets a user pass
 *   through to a path they already know, never list or read anything (every entry below is 0700/0600).
 */
export function checkVarPermissions(varDir: string, warn: (line: string) => void): void {
  if (!existsSync(varDir)) return;
  const found = restrictTreeToOwner(varDir, { skip: ["test"], rootTolerance: 0o011 });
  const stuck = found.filter((f) => !f.repaired);
  if (stuck.length > 0) {
    const list = stuck.slice(0, 5).map((f) => `${f.path} (${f.mode.toString(8)})`).join(", ");
    throw new VarPermissionError(`${varDir}: ${stuck.length} path(s) are accessible to other users and could not be made owner-only: ${list}${stuck.length > 5 ? ", …" : ""}. Fix their owner or mode (chmod go-rwx) and start again.`);
  }
  if (found.length > 0) {
    const sample = found.slice(0, 3).map((f) => `${f.path} (${f.mode.toString(8)})`).join(", ");
    warn(`warning: ${found.length} path(s) under ${varDir} were accessible to other users and are now owner-only, e.g. ${sample}`);
  }
}

export class VarPermissionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VarPermissionError";
  }
}
