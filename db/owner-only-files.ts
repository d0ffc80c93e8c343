import { chmodSync, lstatSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";

/**
 * Owner-only file modes for generated state (issue 12: the embedded database was readable by every
 * local user; 告示334号 第4-5(1): strictly protected). Directories 0700, files 0600 — or rather: the
 * group and other bits cleared, the owner's kept (a file never gains an x bit it did not have).
 * Symbolic links are neither followed nor changed (their mode means nothing on Linux).
 */

/** A path that gave group or other users access, as found (mode before the repair). */
export interface LooseEntry {
  /** Relative to the walked root ("." for the root itself). Paths of generated state, no personal data. */
  readonly path: string;
  readonly mode: number;
  /** Whether the chmod succeeded (false: e.g. the file belongs to another user). */
  readonly repaired: boolean;
}

export interface OwnerOnlyOptions {
  /** Clear the bits (default true); false only reports. */
  readonly repair?: boolean;
  /** Relative paths (from the root) of subtrees not to walk. */
  readonly skip?: readonly string[];
  /** Bits tolerated on the root directory itself (e.g. 0o011: others may pass through, not list). */
  readonly rootTolerance?: number;
}

/**
 * Walks `root` (depth-first, without following symlinks) and clears group/other permission bits on
 * every directory and file that has any. Returns what was found. A missing root is not an error.
 */
export function restrictTreeToOwner(root: string, options: OwnerOnlyOptions = {}): LooseEntry[] {
  const repair = options.repair ?? true;
  const skip = new Set(options.skip ?? []);
  const found: LooseEntry[] = [];
  const visit = (path: string, isRoot: boolean): void => {
    let st;
    try {
      st = lstatSync(path);
    } catch {
      return; // gone meanwhile (a WAL segment recycled by the database)
    }
    if (st.isSymbolicLink()) return;
    const mode = st.mode & 0o7777;
    const tolerated = isRoot ? (options.rootTolerance ?? 0) : 0;
    const loose = mode & 0o077 & ~tolerated;
    if (loose !== 0) {
      let repaired = false;
      if (repair) {
        try {
          chmodSync(path, mode & ~loose);
          repaired = true;
        } catch {
          repaired = false;
        }
      }
      found.push({ path: relative(root, path) || ".", mode, repaired });
    }
    if (!st.isDirectory()) return;
    let names: string[];
    try {
      names = readdirSync(path);
    } catch {
      return;
    }
    for (const name of names) {
      const child = join(path, name);
      if (skip.has(relative(root, child))) continue;
      visit(child, false);
    }
  };
  visit(root, true);
  return found;
}
