import Router from "@koa/router";
import type { Knex } from "knex";
import { z } from "zod";
import type { Clock } from "../../ca/ports.js";
import type { ApiState } from "../api-state.js";
import type { OpenApiDocument } from "../openapi.js";
import { route } from "../route-contract.js";
import { adminOnly, type AdminRouteAuth } from "./admin-common.js";

/**
 * `GET /v1/admin/dashboard` (issue 17): the read-only figures the operator console's dashboard draws
 * (docs/console.md): CA generations, the freshness of every partition's full CRL, the oldest stored OCSP
 * response, the resident feed's last event and safety valve, and certificates issued and revoked per JST
 * day. Counts and times only: no personal data, no serial numbers.
 */

/** What the dashboard shows. Dates are ISO 8601; days are JST calendar days (docs/domain.md). */
export interface DashboardFigures {
  readonly at: string;
  readonly generations: ReadonlyArray<{ caId: string; kind: string; status: string; keyAlgorithm: string | null }>;
  /** Each CA generation's partitions: how many have a current full CRL, the oldest, and which are past nextUpdate. */
  readonly crl: ReadonlyArray<{ caId: string; partitions: number; withCrl: number; oldestThisUpdate: string | null; earliestNextUpdate: string | null; overdue: number[] }>;
  readonly ocsp: { readonly oldestThisUpdate: string | null };
  readonly feed: { readonly lastReceivedAt: string | null; readonly halted: boolean; readonly haltedAt: string | null; readonly haltReason: string | null; readonly resumedAt: string | null; readonly deferred: number; readonly rejected: number };
  readonly days: ReadonlyArray<{ day: string; issued: number; revoked: number }>;
}

/** The port the route reads through; `knexDashboardSource` is the one adapter. */
export interface DashboardSource {
  figures(now: Date, days: number): Promise<Omit<DashboardFigures, "at">>;
}

export interface AdminDashboardRouteDeps extends AdminRouteAuth {
  readonly source: DashboardSource;
  readonly clock: Clock;
}

const query = z.object({ days: z.string().regex(/^[0-9]{1,2}$/, "days must be 1–31").transform(Number).refine((n) => n >= 1 && n <= 31, "days must be 1–31").optional().describe("1–31, default 14") });

/** Every human admin role may look at the state of the CA; the figures hold no personal data. */
const READERS = ["ca-operator", "ca-admin", "security-officer", "auditor"] as const;

export function adminDashboardRoutes(deps: AdminDashboardRouteDeps) {
  return (openapi: OpenApiDocument): Router<ApiState> => {
    const router = new Router<ApiState>();
    route(
      router,
      openapi,
      {
        method: "get",
        path: "/admin/dashboard",
        summary: "Dashboard figures of the operator console: CA generations, CRL freshness per generation, oldest OCSP response, resident feed, issued and revoked per JST day",
        roles: ["admin", ...READERS],
        guard: adminOnly(deps, ...READERS),
        query,
        responses: { "200": "{at, generations, crl, ocsp, feed, days}" },
      },
      async function showDashboard(ctx, { query: q }) {
        const now = deps.clock.now();
        ctx.body = { at: now.toISOString(), ...(await deps.source.figures(now, q.days ?? 14)) } satisfies DashboardFigures;
      },
    );
    return router;
  };
}

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(v as string | Date).toISOString());
/** JST day of a timestamptz, whatever the session's time zone (`at time zone 'UTC'` needs no tz database). */
const JST_DAY = (column: string) => `to_char(((${column} at time zone 'UTC') + interval '9 hours')::date, 'YYYY-MM-DD')`;

/**
 * The dashboard's queries, on PostgreSQL and PGlite alike. Each reads an index or a small table
 * (ca_generations, crls; ocsp_responses by this_update; resident_events by seq and by
 * its pending index), except the per-day counts, which scan the certificates of the window.
 */
export function knexDashboardSource(knex: () => Knex): DashboardSource {
  return {
    async figures(now, days) {
      const k = knex();
      const since = new Date(now.getTime() - days * 86_400_000);
      const [generations, crls, ocsp, lastEvent, valve, pending, issued, revoked] = await Promise.all([
        k("ca_generations").select("id", "kind", "status", "key_algorithm", "partition_count").orderBy("id"),
        k("crls").select("ca_id", "partition", "this_update", "next_update").where({ kind: "full" }),
        k("ocsp_responses").min({ oldest: "this_update" }).first(),
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
        ocsp: { oldestThisUpdate: iso(ocsp?.["oldest"]) },
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
