/**
 * What the cluster test watches in the database while it runs (test/cluster/): who holds each
 * background job's lease (table `job_leases`, docs/cluster.md) and the CRL number of every partition
 * (table `crls`). Polled through a pool of its own that outlives a PostgreSQL restart (a failed poll is
 * skipped).
 */
import pg from "pg";

export interface LeaseRow {
  readonly job: string;
  readonly holder: string;
  readonly epoch: number;
  /** Still valid by the database's clock. */
  readonly live: boolean;
}

/** The pid of a lease holder named `host:pid:random` (ca/cluster/holder-id.ts). */
export const holderPid = (holder: string): number => Number(holder.split(":").at(-2));

export class ClusterWatch {
  private readonly pool: pg.Pool;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  /** Latest lease rows (empty until the table exists and has rows). */
  leases: LeaseRow[] = [];
  /** Whether table job_leases exists (migration 0023). */
  leasesTable = false;
  /** Each distinct CRL number seen, in order, per `caId/partition/kind`. */
  readonly crlNumbers = new Map<string, bigint[]>();
  /** A CRL number lower than the one it replaced (same partition and kind). */
  readonly crlRegressions: string[] = [];
  failedPolls = 0;

  constructor(url: string) {
    this.pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 2000 });
    this.pool.on("error", () => undefined); // a restart cuts idle clients: the next poll reconnects
  }

  start(periodMs = 200): void {
    this.timer = setInterval(() => void this.poll(), periodMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    while (this.polling) await new Promise((r) => setTimeout(r, 20));
    await this.pool.end();
  }

  /** One poll now (also what the timer runs). */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const t = await this.pool.query<{ exists: boolean }>("select to_regclass('job_leases') is not null as exists");
      this.leasesTable = t.rows[0]?.exists === true;
      if (this.leasesTable) {
        const r = await this.pool.query<{ job: string; holder: string; epoch: string; live: boolean }>("select job, holder, epoch, expires_at > now() as live from job_leases order by job");
        this.leases = r.rows.map((x) => ({ job: x.job, holder: x.holder, epoch: Number(x.epoch), live: x.live }));
      }
      const crls = await this.pool.query<{ key: string; n: string }>("select ca_id || '/' || partition || '/' || kind as key, crl_number as n from crls");
      for (const { key, n } of crls.rows) {
        const seen = this.crlNumbers.get(key) ?? [];
        const last = seen.at(-1);
        const value = BigInt(n);
        if (last === undefined || value !== last) {
          if (last !== undefined && value < last) this.crlRegressions.push(`${key}: ${last} then ${value}`);
          seen.push(value);
          this.crlNumbers.set(key, seen);
        }
      }
    } catch {
      this.failedPolls++;
    } finally {
      this.polling = false;
    }
  }

  /** Jobs held (live) per holder. */
  heldBy(): Map<string, string[]> {
    const m = new Map<string, string[]>();
    for (const l of this.leases.filter((x) => x.live)) m.set(l.holder, [...(m.get(l.holder) ?? []), l.job]);
    return m;
  }

  /** CRLs published while watched (changes of number seen, over all partitions). */
  crlChanges(): number {
    let n = 0;
    for (const seen of this.crlNumbers.values()) n += seen.length - 1;
    return n;
  }
}
