import assert from "node:assert/strict";
import type { OperatorRole } from "../../../ca/roles.js";
import { request } from "../../support/https-client.js";
import { startTestService, type TestService } from "../../support/service-harness.js";
import { startAdminApp, type AdminTestApp } from "./admin-app.js";
import { allowedPrincipals, principals, type Principal } from "./role-matrix-table.js";

/**
 * The role matrix (issue 7 §9, CONTRACT §7): every `/v1` route of the OpenAPI document × every
 * principal, allowed or denied as role-matrix-table.ts says; and nothing under /v1 without a client
 * certificate. New routes are covered as soon as they are in the document.
 */
describe("role matrix: every /v1 route × every role", function () {
  this.timeout(120_000);
  let ts: TestService;
  let app: AdminTestApp;
  const tokens = new Map<Principal, string>();
  let routes: Array<{ method: string; path: string; key: string }>;

  before(async () => {
    ts = await startTestService({ name: "role-matrix", engine: "pglite" });
    app = await startAdminApp(ts);
    for (const p of principals) {
      const [client, role] = p.split("+") as ["terminal" | "admin", OperatorRole | undefined];
      if (role) tokens.set(p, await app.login(role, client));
    }
    const paths = app.openapi.paths as Record<string, Record<string, unknown>>;
    routes = Object.entries(paths)
      .filter(([path]) => path.startsWith("/v1/"))
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path, key: `${m.toUpperCase()} ${path}` })));
  });
  after(async () => {
    await app?.close();
    await ts?.close();
  });

  /** A concrete URL for an OpenAPI path: every parameter becomes a probe that matches nothing. */
  const concrete = (path: string): string => path.replace(/\{[^}]+\}/g, "matrix-probe");

  it("has a row for every /v1 route in the document, and every row is served", () => {
    const documented = new Set(routes.map((r) => r.key));
    assert.deepEqual(routes.map((r) => r.key).filter((k) => !(k in allowedPrincipals)), [], "routes without a row in role-matrix-table.ts");
    assert.deepEqual(Object.keys(allowedPrincipals).filter((k) => !documented.has(k)), [], "rows for routes that are not served");
  });

  it("allows and denies each principal exactly as the table says", async () => {
    const mismatches: string[] = [];
    for (const r of routes) {
      for (const p of principals) {
        const client = p.split("+")[0] as "terminal" | "admin" | "feed" | "relying-party";
        let token = tokens.get(p);
        // Logging off ends the session: use a fresh one so the matrix can go on.
        if (token && r.key === "DELETE /v1/sessions/current") token = await app.login(p.split("+")[1] as OperatorRole, client as "terminal" | "admin");
        const res = await app.call(r.method, concrete(r.path), { client, ...(token ? { token } : {}) });
        const allowed = res.status !== 401 && res.status !== 403;
        const expected = (allowedPrincipals[r.key] ?? []).includes(p);
        if (allowed !== expected) mismatches.push(`${r.key} as ${p}: ${res.status} (${expected ? "should be allowed" : "should be denied"})`);
        if (res.status >= 500) mismatches.push(`${r.key} as ${p}: ${res.status} ${res.body.toString("utf8")}`);
      }
    }
    assert.deepEqual(mismatches, []);
  });

  it("denies every /v1 route without a client certificate (plain HTTP: 401; HTTPS: handshake refused)", async () => {
    for (const r of routes) {
      const res = await request(`${app.listeners.httpUrl}${concrete(r.path)}`, { method: r.method });
      assert.equal(res.status, 401, `${r.key} over HTTP`);
      assert.equal(res.json<{ type: string }>().type, "urn:jpki-ca:problem:unauthenticated");
    }
    const r = routes.find((x) => x.key === "GET /v1/admin/operators")!;
    const outcome = await app.call(r.method, r.path, { client: "none", token: tokens.get("admin+security-officer")! }).then(
      (res) => res.status,
      (e: Error) => e.message,
    );
    assert.ok(outcome === 401 || typeof outcome === "string", `HTTPS without a certificate got ${String(outcome)}`);
  });
});
