import type { Knex } from "knex";

/** What the dashboard shows. Dates are ISO 8601; days are JST calendar days (docs/domain.md). */
export interface DashboardFigures {
  readonly at: string;
  readonly generations: ReadonlyArray<{ caId: string; kind: string; status: string; keyAlgorithm: string | null }>;
  /** Each CA generation's partitions: how many have a current full CRL, the oldest, and which are past nextUpdate. */
  readonly crl: ReadonlyArray<{ caId: string; partitions: number; withCrl: number; oldestThisUpdate: string | null; earliestNextUpdate: string | null; overdue: number[] }>;
  readonly ocsp: {
    readonly oldestThisUpdate: string | null;
    /** OCSP answers to registered relying parties in the minute before `at`, all nodes (ocsp_access_log; 0 in public mode). */
    readonly answersLastMinute: number;
    /** This node's pre-signed lookups since it started (api/metrics.ts): hit ratio = hits / (hits + misses). */
    readonly node?: { readonly presignedHits: number; readonly presignedMisses: number };
  };
  readonly feed: { readonly lastReceivedAt: string | null; readonly halted: boolean; readonly haltedAt: string | null; readonly haltReason: string | null; readonly resumedAt: string | null; readonly deferred: number; readonly rejected: number };
  readonly days: ReadonlyArray<{ day: string; issued: number; revoked: number }>;
}

/** The port the route reads through; `knexDashboardSource` is the one adapter. */
export interface DashboardSource {
  figures(now: Date, days: number): Promise<Omit<DashboardFigures, "at">>;
}

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(v as string | Date).toISOString());
/** JST day of a timestamptz, whatever the session's time zone (`at time zone 'UTC'` needs no tz database). */
const JST_DAY = (column: string) => `to_char(((${column} at time zone 'UTC') + interval '9 hours')::date, 'YYYY-MM-DD')`;

/**
 * The dashboard's queries (api/routes/admin-dashboard.ts, issue 17), on PostgreSQL and PGlite alike. Each
 * reads an index or a small table (ca_generations, crls; ocsp_responses by this_update; resident_events by
 * seq and by its pending index; the per-day counts certificates_status_created_at_idx and
 * certificates_revoked_at_idx, the last minute's OCSP answers ocsp_access_log_at_brin, migration 0030): at
 * 200 M certificates and 10^8 OCSP answers a day (docs/scale.md) none scans its table.
 */
export function knexDashboardSource(knex: () => Knex): DashboardSource {
  return {
    async figures(now, days) {
      const k = knex();
      const since = new Date(now.getTime() - days * 86_400_000);
      const [generations, crls, ocsp, answers, lastEvent, valve, pending, issued, revoked] = await Promise.all([
        k("ca_generations").select("id", "kind", "status", "key_algorithm", "partition_count").orderBy("id"),
        k("crls").select("ca_id", "partition", "this_update", "next_update").where({ kind: "full" }),
        k("ocsp_responses").min({ oldest: "this_update" }).first(),
        k("ocsp_access_log").count({ n: "*" }).where("at", ">", new Date(now.getTime() - 60_000)).andWhere("at", "<=", now).first(),
        k("resident_events").select("received_at").orderBy("seq", "desc").first(),
        k("event_safety_valve").select("*").where({ id: 1 }).first(),
        k("resident_events").select("outcome").count({ n: "*" }).whereNot({ outcome: "applied" }).groupBy("outcome"),
        k("certificates").select(k.raw(`${JST_DAY("created_at")} as day`)).count({ n: "*" }).where("created_at", ">=", since).whereIn("status", ["valid", "revoked", "hold"]).groupByRaw("1"),
        k("certificates").select(k.raw(`${JST_DAY("revoked_at")} as day`)).count({ n: "*" }).where("revoked_at", ">=", since).groupByRaw("1"),
      ]);
      const crl = generations.map((g: Record<string, unknown>) => {
        const mine = crls.filter((c) => c["ca_id"] === g["id"]);
        const thisUpdates = mine.map((c) => new Date(c["this_update"] as Date).getTime());
        const nextUpdates = mine.map((c) => new Date(c["next_update"] as Date).getTime());
        return {
          caId: String(g["id"]),
          partitions: Number(g["partition_count"]),
          withCrl: mine.length,
          oldestThisUpdate: thisUpdates.length ? new Date(Math.min(...thisUpdates)).toISOString() : null,
          earliestNextUpdate: nextUpdates.length ? new Date(Math.min(...nextUpdates)).toISOString() : null,
          overdue: mine.filter((c) => new Date(c["next_update"] as Date).getTime() <= now.getTime()).map((c) => Number(c["partition"])).sort((a, b) => a - b),
        };
      });
      const pendingRows = pending as ReadonlyArray<Record<string, unknown>>;
      const pendingOf = (outcome: string) => Number(pendingRows.find((p) => p["outcome"] === outcome)?.["n"] ?? 0);
      return {
        generations: generations.map((g: Record<string, unknown>) => ({ caId: String(g["id"]), kind: String(g["kind"]), status: String(g["status"]), keyAlgorithm: typeof g["key_algorithm"] === "string" ? g["key_algorithm"] : null })),
        crl,
        ocsp: { oldestThisUpdate: iso(ocsp?.["oldest"]), answersLastMinute: Number(answers?.["n"] ?? 0) },
        feed: {
          lastReceivedAt: iso(lastEvent?.["received_at"]),
          halted: Boolean(valve?.["halted"]),
          haltedAt: iso(valve?.["halted_at"]),
          haltReason: typeof valve?.["halt_reason"] === "string" ? valve["halt_reason"] : null,
          resumedAt: iso(valve?.["resumed_at"]),
          deferred: pendingOf("deferred"),
          rejected: pendingOf("rejected"),
        },
        days: dayRows(now, days, issued, revoked),
      };
    },
  };
}

/** One row per JST day of the window, oldest first, zero where nothing happened. */
function dayRows(now: Date, days: number, issued: ReadonlyArray<Record<string, unknown>>, revoked: ReadonlyArray<Record<string, unknown>>) {
  const count = (rows: ReadonlyArray<Record<string, unknown>>) => new Map(rows.map((r) => [String(r["day"]), Number(r["n"])]));
  const i = count(issued);
  const r = count(revoked);
  const out: Array<{ day: string; issued: number; revoked: number }> = [];
  for (let d = days - 1; d >= 0; d--) {
    const day = new Date(now.getTime() + 9 * 3_600_000 - d * 86_400_000).toISOString().slice(0, 10);
    out.push({ day, issued: i.get(day) ?? 0, revoked: r.get(day) ?? 0 });
  }
  return out;
}
