import Router from "@koa/router";
import { z } from "zod";
import { parseOperatingSchedule } from "../../ca/operators/operating-hours.js";
import type { TerminalRecord, TerminalStore } from "../../ca/operators/operator-ports.js";
import type { TerminalRegistry } from "../../ca/operators/terminal-registry.js";
import { pem } from "../../ca/x509/pem.js";
import { readJson } from "../json-body.js";
import type { OpenApiDocument } from "../openapi.js";
import { adminOnly, idParam, noStore, operatorOf, type AdminRouteAuth } from "./admin-common.js";

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
    municipalityCode: z.string().regex(/^[0-9]{6}$/),
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

/** CONTRACT §7 terminals (CA operator): enrol (answers the client certificate + key once), list, revoke. */
export function adminTerminalRoutes(deps: AdminTerminalRouteDeps) {
  return (openapi: OpenApiDocument): Router => {
    const router = new Router();
    const caOperator = adminOnly(deps, "ca-operator");

    router.get("/admin/terminals", ...caOperator, async (ctx) => {
      ctx.body = { terminals: (await deps.terminals.list()).map(terminalJson) };
    });
    openapi.add("get", "/v1/admin/terminals", { summary: "Enrolled and revoked terminals", roles: ROLES, responses: { "200": "{terminals: [...]}" } });

    router.post("/admin/terminals", ...caOperator, async (ctx) => {
      const body = await readJson(ctx, enrolBody);
      const enrolled = await deps.registry.enrol(operatorOf(ctx), {
        terminalId: body.terminalId,
        municipalityCode: body.municipalityCode,
        ...(body.operatingHours !== undefined && body.operatingHours !== null ? { operatingHours: parseOperatingSchedule(body.operatingHours) } : {}),
        ...(body.validityDays ? { validityDays: body.validityDays } : {}),
      });
      noStore(ctx);
      ctx.status = 201;
      ctx.set("Location", `/v1/admin/terminals/${enrolled.record.terminalId}`);
      ctx.body = {
        terminal: terminalJson(enrolled.record),
        certificate: pem(enrolled.certificate, "CERTIFICATE"),
        privateKey: pem(enrolled.privateKeyPkcs8, "PRIVATE KEY"),
        caCertificate: pem(deps.serviceCaCertificate(), "CERTIFICATE"),
      };
    });
    openapi.add("post", "/v1/admin/terminals", {
      summary: "Enrol a counter terminal: answers its client certificate and private key (PKCS#8), once",
      roles: ROLES,
      requestBody: {
        type: "object",
        required: ["terminalId", "municipalityCode"],
        additionalProperties: false,
        properties: { terminalId: { type: "string" }, municipalityCode: { type: "string", pattern: "^[0-9]{6}$", description: "the one municipality the terminal serves" }, operatingHours: { type: "object" }, validityDays: { type: "integer" } },
      },
      responses: { "201": "{terminal, certificate, privateKey, caCertificate} (PEM); Cache-Control: no-store", "400": "malformed or missing field (municipalityCode is required)", "409": "terminal enrolled and active" },
    });

    router.delete("/admin/terminals/:id", ...caOperator, async (ctx) => {
      await deps.registry.revoke(operatorOf(ctx), idParam(ctx, "id"));
      ctx.status = 204;
    });
    openapi.add("delete", "/v1/admin/terminals/{id}", {
      summary: "Revoke a terminal: its certificate is refused from now on and its sessions end",
      roles: ROLES,
      parameters: [{ name: "id", in: "path", required: true }],
      responses: { "204": "revoked", "404": "no active terminal with this id" },
    });
    return router;
  };
}
