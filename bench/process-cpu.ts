/**
 * CPU time of processes, from /proc (Linux): how a benchmark's CPU splits between the service, the
 * PostgreSQL backends that serve it and the load generator.
 */
import { readdirSync, readFileSync } from "node:fs";

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux architecture Node runs on. */
const TICKS_PER_SECOND = 100;

/** Whether a process exists (EPERM: it does, but is not ours to signal). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** User + system CPU seconds of a process so far (0 when it is gone). */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the ")" that closes the command name: state is field 3, utime 14, stime 15 (proc(5)).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/**
 * User + system CPU seconds of the children this process has waited for (cutime + cstime of
 * /proc/self/stat): around a spawnSync, what that child (the load generator) spent.
 */
export function reapedChildrenCpuSeconds(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND;
}

/** User + system CPU seconds of a process and of its live descendants (the service's workers). */
export function processTreeCpuSeconds(pid: number): number {
  let total = processCpuSeconds(pid);
  for (const child of childPids(pid)) total += processTreeCpuSeconds(child);
  return total;
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Pids whose command line contains `text` (e.g. a database name: PostgreSQL backends show it). */
export function pidsWithCommandLine(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ").includes(text)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Total CPU seconds of all machines' cores since boot, user + system + the rest ("cpu" line of /proc/stat). */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

/** A snapshot of CPU seconds; `since` gives the difference to an earlier one. */
export interface CpuSnapshot {
  readonly service: number;
  readonly postgres: number;
  readonly client: number;
  readonly machineBusy: number;
  readonly machineTotal: number;
}

export function cpuSnapshot(servicePid: number, databaseName: string): CpuSnapshot {
  const machine = machineCpuSeconds();
  const own = process.cpuUsage();
  return {
    service: processTreeCpuSeconds(servicePid),
    postgres: pidsWithCommandLine(databaseName).reduce((sum, pid) => sum + processCpuSeconds(pid), 0),
    client: (own.user + own.system) / 1e6,
    machineBusy: machine.busy,
    machineTotal: machine.total,
  };
}

/** b − a, field by field. Backends that ended between the two are missed (the pool keeps them open). */
export function cpuSince(a: CpuSnapshot, b: CpuSnapshot): CpuSnapshot {
  return {
    service: b.service - a.service,
    postgres: b.postgres - a.postgres,
    client: b.client - a.client,
    machineBusy: b.machineBusy - a.machineBusy,
    machineTotal: b.machineTotal - a.machineTotal,
  };
}
