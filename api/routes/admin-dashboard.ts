import Router from "@koa/router";
import { z } from "zod";
import type { Clock } from "../../ca/ports.js";
import type { ApiState } from "../api-state.js";
import type { OpenApiDocument } from "../openapi.js";
import { route } from "../route-contract.js";
import { adminOnly, type AdminRouteAuth } from "./admin-common.js";
import type { DashboardFigures, DashboardSource } from "../../db/dashboard-source.js";

/**
 * `GET /v1/admin/dashboard` (issue 17): the read-only figures the operator console's dashboard draws
 * (docs/console.md): CA generations, the freshness of every partition's full CRL, the oldest stored OCSP
 * response, the resident feed's last event and safety valve, and certificates issued and revoked per JST
 * day. Counts and times only: no personal data, no serial numbers. The queries: db/dashboard-source.ts.
 */

export interface AdminDashboardRouteDeps extends AdminRouteAuth {
  readonly source: DashboardSource;
  readonly clock: Clock;
  /** This node's pre-signed OCSP lookups since it started (api/metrics.ts `presignedLookups`). */
  readonly presignedLookups?: () => Promise<{ hits: number; misses: number }>;
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
        const figures = await deps.source.figures(now, q.days ?? 14);
        const lookups = await deps.presignedLookups?.();
        const ocsp = lookups === undefined ? figures.ocsp : { ...figures.ocsp, node: { presignedHits: lookups.hits, presignedMisses: lookups.misses } };
        ctx.body = { at: now.toISOString(), ...figures, ocsp } satisfies DashboardFigures;
      },
    );
    return router;
  };
}
