/**
 * A throwaway PostgreSQL server of the cluster test's own (test/cluster/), started the way
 * scripts/services.sh starts the shared one — initdb with trust authentication, loopback TCP on a free
 * port, the Unix socket in the data directory, fsync off; as the user `postgres` when we are root
 * (initdb refuses root) — so that the test can stop and restart it mid-load without touching the
 * database every other test uses.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePorts } from "./cluster-ports.js";
import { systemBinary } from "./system-binaries.js";

/** ./var of the repository: the test's directories are under it. */
const repoVar = resolve(dirname(fileURLToPath(import.meta.url)), "../../var");
const isRoot = (): boolean => process.getuid?.() === 0;

export interface ClusterPostgres {
  /** postgres://ca@127.0.0.1:<port>/postgres */
  readonly url: string;
  readonly port: number;
  /** `pg_ctl stop -m fast`: every connection is cut. */
  stop(): void;
  start(): void;
  /** Stops the server (immediate) if it runs; the caller removes the directory. */
  destroy(): void;
}

/**
 * initdb + start under `dir` (created; made passable for `postgres` when root).
 * @param dir a fresh directory under ./var/test/
 */
export async function startClusterPostgres(dir: string): Promise<ClusterPostgres> {
  // /usr/lib/postgresql/<newest>/bin (Debian's package `postgresql`), on nobody's PATH.
  const bin = dirname(systemBinary("pg_ctl"));
  const data = join(dir, "data");
  mkdirSync(dir, { recursive: true });
  const [port] = await freePorts(1);
  const run = (cmd: string, args: string[], timeout = 90_000): string => {
    const [file, argv] = isRoot() ? ["runuser", ["-u", "postgres", "--", join(bin, cmd), ...args]] : [join(bin, cmd), args];
    return execFileSync(file, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout });
  };
  if (isRoot()) {
    // The server runs as `postgres`: it must pass through ./var/test/<this test> to its data directory.
    // o+x on each directory from ./var down (as scripts/services.sh does), nothing more.
    for (let d = dir; d.startsWith(repoVar); d = dirname(d)) chmodSync(d, statSync(d).mode | 0o001);
    const { uid, gid } = postgresIds();
    chownSync(dir, uid, gid);
  }
  run("initdb", ["-D", data, "-U", "ca", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]);
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${data} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  const start = (): void => void run("pg_ctl", ["-D", data, "-l", join(dir, "postgres.log"), "-w", "-t", "60", "-o", options, "start"]);
  const stop = (mode: "fast" | "immediate"): void => void run("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "60", "stop"]);
  start();
  return {
    url: `postgres://ca@127.0.0.1:${port}/postgres`,
    port: port!,
    stop: () => stop("fast"),
    start,
    destroy: () => {
      if (existsSync(join(data, "postmaster.pid"))) {
        try {
          stop("immediate");
        } catch {
          // already stopping
        }
      }
    },
  };
}

function postgresIds(): { uid: number; gid: number } {
  const id = (flag: string): number => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  return { uid: id("-u"), gid: id("-g") };
}
