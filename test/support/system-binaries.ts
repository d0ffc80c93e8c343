import { accessSync, constants, readdirSync } from "node:fs";
import { delimiter, join } from "node:path";

/**
 * Where the Debian packages the tests use put their programs, whatever the caller's PATH (issue 14 item 6):
 * an ordinary user's PATH has no /usr/sbin, where `nats-server` lives, and PostgreSQL's server programs
 * are under /usr/lib/postgresql/<version>/bin, on nobody's PATH. scripts/services.sh looks in the same
 * places (its `find_bin` and `pg_bin`); keep the two lists alike.
 *
 * Each entry: the program, the Debian package that installs it, and the directories it is found in.
 */
const SYSTEM_DIRS = ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin", "/usr/local/sbin"];

export const systemPrograms = {
  "nats-server": { package: "nats-server" },
  "softhsm2-util": { package: "softhsm2" },
  openssl: { package: "openssl" },
  "pkcs11-tool": { package: "opensc" },
  pkcsconf: { package: "opencryptoki" },
  pkcsslotd: { package: "opencryptoki" },
  initdb: { package: "postgresql" },
  pg_ctl: { package: "postgresql" },
  postgres: { package: "postgresql" },
  pg_isready: { package: "postgresql" },
  chromium: { package: "chromium" },
} as const;

export type SystemProgram = keyof typeof systemPrograms;

const postgresPrograms: ReadonlySet<SystemProgram> = new Set(["initdb", "pg_ctl", "postgres", "pg_isready"]);

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** /usr/lib/postgresql/<version>/bin, newest version first (Debian keeps one directory per major version). */
function postgresBinDirs(): string[] {
  try {
    return readdirSync("/usr/lib/postgresql")
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
      .map((v) => join("/usr/lib/postgresql", v, "bin"));
  } catch {
    return [];
  }
}

/** The directories searched for `program`, in order: PostgreSQL's own, then PATH, then the system ones. */
export function searchDirs(program: SystemProgram): string[] {
  const path = (process.env["PATH"] ?? "").split(delimiter).filter((d) => d.startsWith("/"));
  const dirs = [...(postgresPrograms.has(program) ? postgresBinDirs() : []), ...path, ...SYSTEM_DIRS];
  return [...new Set(dirs)];
}

/** The absolute path of `program`, or undefined when no package put it anywhere we look. */
export function findSystemBinary(program: SystemProgram): string | undefined {
  return searchDirs(program)
    .map((d) => join(d, program))
    .find(executable);
}

/**
 * The absolute path of `program`. Throws an Error that names the Debian package and the command that
 * installs it (a non-root user cannot run apt-get; the message says what to ask for).
 */
export function systemBinary(program: SystemProgram): string {
  const found = findSystemBinary(program);
  if (found) return found;
  const pkg = systemPrograms[program].package;
  throw new Error(`${program} not found (looked in ${searchDirs(program).join(", ")}): install the Debian package '${pkg}' (as root: apt-get install ${pkg})`);
}
