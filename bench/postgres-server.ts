/**
 * The PostgreSQL server a benchmark runs against: DATABASE_URL when given, otherwise the throwaway one of
 * scripts/services.sh (under ./var/test/, fsync off; reached through its Unix socket), started here and
 * stopped by `release` only when this process started it.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const envFile = join(repoRoot, "var/test/services.env");
const pgData = join(repoRoot, "var/test/pg/data");
const pidFile = join(pgData, "postmaster.pid");

/**
 * The throwaway server through its Unix socket (it listens on one in its data directory): the service
 * and PostgreSQL share the machine, as a co-located deployment would, and TCP over loopback cost ~4 ms
 * of CPU per pair issuance more on this VM (BENCHMARKS.md). Undefined when there is no socket.
 */
function unixSocketUrl(tcpUrl: string): string | undefined {
  const u = new URL(tcpUrl);
  if (!existsSync(join(pgData, `.s.PGSQL.${u.port}`))) return undefined;
  return `postgres://${u.username}@localhost:${u.port}${u.pathname}?host=${encodeURIComponent(pgData)}`;
}

export interface PostgresServer {
  /** postgres://… of the server (maintenance database); benchmarks create their own database on it. */
  readonly url: string;
  /** Whether this process started it (then `release` stops it). */
  readonly startedHere: boolean;
  /** Stops the throwaway services if this process started them; otherwise does nothing. */
  release(): void;
}

/** DATABASE_URL, or a throwaway server from `bash scripts/services.sh start`. */
export function ensurePostgres(log: (line: string) => void = () => undefined): PostgresServer {
  const given = process.env.DATABASE_URL;
  if (given) return { url: given, startedHere: false, release: () => undefined };
  const alreadyRunning = existsSync(envFile) && existsSync(pidFile);
  log(alreadyRunning ? "PostgreSQL: reusing the throwaway server of scripts/services.sh" : "PostgreSQL: starting a throwaway server (scripts/services.sh start)");
  execFileSync("bash", [join(repoRoot, "scripts/services.sh"), "start"], { cwd: repoRoot, stdio: ["ignore", "ignore", "pipe"] });
  // services.env is shell (printf %q): let bash read it rather than parsing the quoting here.
  const url = execFileSync("bash", ["-c", `. "${envFile}" && printf %s "$DATABASE_URL"`], { encoding: "utf8" });
  if (!/^postgres(ql)?:\/\//.test(url)) throw new Error(`scripts/services.sh did not give a DATABASE_URL (see ${envFile})`);
  let released = false;
  return {
    url: unixSocketUrl(url) ?? url,
    startedHere: !alreadyRunning,
    release: () => {
      if (released || alreadyRunning) return;
      released = true;
      execFileSync("bash", [join(repoRoot, "scripts/services.sh"), "stop"], { cwd: repoRoot, stdio: ["ignore", "ignore", "pipe"] });
    },
  };
}
