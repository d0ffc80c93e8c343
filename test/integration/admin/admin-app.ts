import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createApp } from "../../../api/app.js";
import { listen, type Listeners } from "../../../api/listeners.js";
import { buildHandlers } from "../../../api/main.js";
import { Metrics } from "../../../api/metrics.js";
import { OpenApiDocument } from "../../../api/openapi.js";
import { buildAdminControls, type AdminControls } from "../../../api/wiring/admin-controls.js";
import type { OperatorRole } from "../../../ca/operators/roles.js";
import { request, requestJson, type ClientCredentials, type HttpAnswer } from "../../support/https-client.js";
import { defaultWorkstation, type TestService } from "../../support/service-harness.js";

/**
 * The service's app with the admin routers, over its own listeners, on a started test service
 * (test/support/service-harness.ts): the routers of the composition root (buildHandlers), plus the
 * admin routers of api/wiring/admin-controls.ts unless the composition root mounts them already.
 */
export interface AdminTestApp {
  readonly listeners: Listeners;
  readonly openapi: Record<string, unknown>;
  /** Set when this file built the admin controls itself. */
  readonly controls: AdminControls | undefined;
  readonly clients: Readonly<Record<"terminal" | "admin" | "feed" | "relying-party" | "none", ClientCredentials>>;
  call(method: string, path: string, opts?: { client?: keyof AdminTestApp["clients"]; token?: string; body?: unknown; headers?: Record<string, string> }): Promise<HttpAnswer>;
  login(role: OperatorRole, client?: "terminal" | "admin", credentials?: { operatorId: string; password: string }): Promise<string>;
  close(): Promise<void>;
}

export async function startAdminApp(ts: TestService): Promise<AdminTestApp> {
  const { service, config } = ts;
  const { handlers, v1Routers } = await buildHandlers(service);
  const probe = new OpenApiDocument({ title: "probe", version: "0" });
  for (const make of v1Routers) make(probe);
  const wired = Object.keys(probe.toJSON().paths as Record<string, unknown>).includes("/v1/admin/operators");
  const controls = wired ? undefined : await buildAdminControls(service, handlers.auth);
  const app = createApp({
    logger: service.logger,
    metrics: new Metrics({ defaultMetrics: false }),
    caGenerations: service.stores.caGenerations,
    readiness: [],
    v1Routers: controls ? [...v1Routers, ...controls.v1Routers] : v1Routers,
  });
  const tlsDir = join(config.varDir, "tls");
  const [cert, key, clientCa] = await Promise.all(["server.pem", "server.key", "service-ca.pem"].map((f) => readFile(join(tlsDir, f), "utf8")));
  const listeners = await listen(app, { http: { host: "127.0.0.1", port: 0 }, https: { host: "127.0.0.1", port: 0 }, tls: { cert: cert!, key: key!, clientCa: clientCa! } });
  const demo = async (name: string): Promise<ClientCredentials> => ({ ca: ts.demo.tlsCa, cert: await readFile(join(config.demoDir, `${name}.pem`), "utf8"), key: await readFile(join(config.demoDir, `${name}.key`), "utf8") });
  const clients = {
    terminal: ts.tls("terminal"),
    admin: ts.tls("admin"),
    feed: await demo("feed"),
    "relying-party": await demo("relying-party"),
    none: ts.tls("none"),
  };
  const openapi = (await request(`${listeners.httpUrl}/openapi.json`)).json<Record<string, unknown>>();
  const call: AdminTestApp["call"] = (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...opts.headers };
    const tls = clients[opts.client ?? "admin"];
    return opts.body === undefined ? request(`${listeners.httpsUrl}${path}`, { method, headers, tls }) : requestJson(`${listeners.httpsUrl}${path}`, method, opts.body, tls, headers);
  };
  return {
    listeners,
    openapi,
    controls,
    clients,
    call,
    login: async (role, client = defaultWorkstation(role), credentials = ts.demo.operators[role]) => {
      const res = await call("POST", "/v1/sessions", { client, body: credentials });
      if (res.status !== 201) throw new Error(`login of ${role} failed: ${res.status} ${res.body.toString("utf8")}`);
      return res.json<{ token: string }>().token;
    },
    close: () => listeners.close(),
  };
}
