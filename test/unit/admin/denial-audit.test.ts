import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import Koa from "koa";
import { auditDeniedRequests } from "../../../api/denial-audit.js";
import { AnomalyDetector } from "../../../ca/records/anomaly.js";
import { CaError } from "../../../ca/errors.js";
import { FixedClock } from "../../../ca/ports.js";
import { MemoryAuditStore, MemoryDatabase } from "../../support/memory-stores.js";

describe("api/denial-audit", () => {
  let server: http.Server;
  let audit: MemoryAuditStore;
  const night = new Date("2026-11-24T16:00:00Z");

  before(async () => {
    audit = new MemoryAuditStore(new MemoryDatabase());
    const app = new Koa();
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (e) {
        ctx.status = e instanceof CaError && e.kind === "forbidden" ? 403 : e instanceof CaError && e.kind === "unauthenticated" ? 401 : 500;
      }
    });
    app.use(auditDeniedRequests(audit, new FixedClock(night)));
    app.use(async (ctx) => {
      ctx.state.client = { role: "terminal", id: "counter-03", serial: "40", fingerprint256: "AA" };
      if (ctx.path === "/v1/issuances") throw new CaError("forbidden", "outside operating hours");
      if (ctx.path === "/v1/sessions") throw new CaError("unauthenticated", "operator id or password is wrong");
      if (ctx.path === "/v1/boom") throw new CaError("internal", "x");
      ctx.body = "ok";
    });
    server = http.createServer(app.callback() as http.RequestListener); // Koa handles its own errors
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const call = (method: string, path: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port: (server.address() as AddressInfo).port, method, path }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.on("error", reject);
      req.end();
    });

  it("records 401/403 on /v1 routes as request.denied (not failed logins, not other errors) and leaves the answer alone", async () => {
    assert.equal(await call("POST", "/v1/issuances"), 403);
    assert.equal(await call("POST", "/v1/sessions"), 401);
    assert.equal(await call("GET", "/v1/boom"), 500);
    assert.equal(await call("GET", "/v1/fine"), 200);
    const entries = await audit.range(1, 100);
    assert.equal(entries.length, 1);
    const e = entries[0]!;
    assert.equal(e.action, "request.denied");
    assert.equal(e.actor, "terminal:counter-03");
    assert.equal(e.outcome, "denied");
    assert.equal(e.detail.reason, "outside operating hours");
    // … which the anomaly detector turns into an alert.
    assert.deepEqual(new AnomalyDetector().observe(e).map((a) => `${a.kind} ${a.key}`), ["outside-operating-hours terminal:counter-03"]);
  });
});
