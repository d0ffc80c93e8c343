import Router from "@koa/router";
import { z } from "zod";
import { parseOperatingSchedule } from "../../ca/operators/operating-hours.js";
import type { TerminalRecord, TerminalStore } from "../../ca/operators/operator-ports.js";
import type { TerminalRegistry } from "../../ca/operators/terminal-registry.js";
import { operatorOf, type ApiState } from "../api-state.js";
import type { OpenApiDocument } from "../openapi.js";
import { route } from "../route-contract.js";
import { adminOnly, answerEnrolled, idPathParam, type AdminRouteAuth } from "./admin-common.js";

export interface AdminTerminalRouteDeps extends AdminRouteAuth {
  readonly registry: Pick<TerminalRegistry, "enrol" | "revoke">;
  readonly terminals: Pick<TerminalStore, "list">;
  /** DER of the service CA certificate (the trust anchor the terminal needs), read when enrolling. */
  readonly serviceCaCertificate: () => Uint8Array;
}

const enrolBody = z
  .object({
    terminalId: z.string().min(1).max(64),
    // Issue 12 §1: a terminal serves exactly one municipality (check digit verified by the registry).
    municipalityCode: z.string().regex(/^[0-9]{6}$/).describe("the one municipality the terminal serves"),
    // Parsed by ca/operators/operating-hours.ts parseOperatingSchedule (400 naming the field).
    operatingHours: z.unknown().optional(),
    validityDays: z.number().int().min(1).max(825).optional(),
  })
  .strict();

const ROLES = ["admin", "ca-operator"];

const terminalJson = (t: TerminalRecord) => ({
  terminalId: t.terminalId,
  municipalityCode: t.municipalityCode,
  status: t.status,
  clientCertSerial: t.clientCertSerial,
  clientCertFingerprint: t.clientCertFingerprint,
  operatingHours: t.operatingHours,
  enrolledAt: t.enrolledAt.toISOString(),
  revokedAt: t.revokedAt?.toISOString() ?? null,
});

/** docs/api.md §7 terminals (CA operator): enrol (answers the client certificate + key once), list, revoke. */
export function adminTerminalRoutes(deps: AdminTerminalRouteDeps) {
  return (openapi: OpenApiDocument): Router<ApiState> => {
    const router = new Router<ApiState>();
    const caOperator = { roles: ROLES, guard: adminOnly(deps, "ca-operator") };

    route(router, openapi, { method: "get", path: "/admin/terminals", summary: "Enrolled and revoked terminals", ...caOperator, responses: { "200": "{terminals: [...]}" } }, async function listTerminals(ctx) {
      ctx.body = { terminals: (await deps.terminals.list()).map(terminalJson) };
    });

    route(
      router,
      openapi,
      {
        method: "post",
        path: "/admin/terminals",
        summary: "Enrol a counter terminal: answers its client certificate and private key (PKCS#8), once",
        ...caOperator,
        body: enrolBody,
        responses: { "201": "{terminal, certificate, privateKey, caCertificate} (PEM); Cache-Control: no-store", "400": "malformed or missing field (municipalityCode is required)", "409": "terminal enrolled and active" },
      },
      async function enrolTerminal(ctx, { body }) {
        const enrolled = await deps.registry.enrol(operatorOf(ctx), {
          terminalId: body.terminalId,
          municipalityCode: body.municipalityCode,
          ...(body.operatingHours !== undefined && body.operatingHours !== null ? { operatingHours: parseOperatingSchedule(body.operatingHours) } : {}),
          ...(body.validityDays ? { validityDays: body.validityDays } : {}),
        });
        answerEnrolled(ctx, `/v1/admin/terminals/${enrolled.record.terminalId}`, { terminal: terminalJson(enrolled.record) }, enrolled, deps.serviceCaCertificate());
      },
    );

    route(
      router,
      openapi,
      {
        method: "delete",
        path: "/admin/terminals/:id",
        summary: "Revoke a terminal: its certificate is refused from now on and its sessions end",
        ...caOperator,
        params: { id: idPathParam },
        responses: { "204": "revoked", "404": "no active terminal with this id" },
      },
      async function revokeTerminal(ctx, { params }) {
        await deps.registry.revoke(operatorOf(ctx), params.id);
        ctx.status = 204;
      },
    );
    return router;
  };
}
