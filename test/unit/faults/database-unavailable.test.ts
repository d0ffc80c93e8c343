import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Koa from "koa";
import { CaError } from "../../../ca/errors.js";
import { errorMiddleware } from "../../../api/error-middleware.js";
import { createLogger } from "../../../api/logger.js";
import { Metrics } from "../../../api/metrics.js";
import { asDatabaseUnavailable, isDatabaseUnavailable } from "../../../db/database-errors.js";

/** An error shaped like node-postgres's DatabaseError / a Node socket error. */
function driverError(message: string, code?: string): Error {
  const e = new Error(message);
  if (code !== undefined) Object.assign(e, { code });
  return e;
}

describe("faults: database unavailable → 503 + Retry-After (issue 14 item 3a)", () => {
  it("maps connection errors, shutdown, resource and I/O SQLSTATEs and pool timeouts to unavailable", () => {
    const unavailable = [
      driverError("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED"),
      driverError("read ECONNRESET", "ECONNRESET"),
      driverError("Connection terminated unexpectedly"),
      driverError("Connection terminated due to connection timeout"),
      // As knex rethrows a query cut off mid-way: the SQL in front of the driver's message.
      driverError('insert into "certificates" ("serial") values ($1) - Connection terminated unexpectedly'),
      driverError("terminating connection due to administrator command", "57P01"),
      driverError("terminating connection due to crash of another server process", "57P02"),
      driverError("the database system is starting up", "57P03"),
      driverError("the database system is shutting down", "57P03"),
      driverError("connection failure", "08006"),
      driverError("could not extend file: No space left on device", "53100"),
      driverError("out of memory", "53200"),
      driverError("sorry, too many clients already", "53300"),
      driverError("could not read block", "58030"),
      driverError("cannot execute INSERT in a read-only transaction", "25006"),
      Object.assign(new Error("Knex: Timeout acquiring a connection. The pool is probably full."), { name: "KnexTimeoutError" }),
      new AggregateError([driverError("connect ECONNREFUSED ::1:5432", "ECONNREFUSED")], ""),
      new Error("wrapped", { cause: driverError("x", "57P01") }),
    ];
    for (const e of unavailable) {
      assert.equal(isDatabaseUnavailable(e), true, e.message);
      const mapped = asDatabaseUnavailable(e);
      assert.ok(mapped instanceof CaError && mapped.kind === "unavailable", e.message);
      assert.equal(mapped.cause, e);
    }
    assert.match((asDatabaseUnavailable(driverError("could not extend file", "53100")) as Error).message, /out of resources/);
  });

  it("leaves other errors alone: constraint violations, syntax errors, CaErrors, non-errors", () => {
    const others: unknown[] = [
      driverError("duplicate key value", "23505"),
      driverError("syntax error", "42601"),
      driverError("deadlock detected", "40P01"),
      new CaError("conflict", "already exists"),
      new TypeError("cannot read properties of undefined"),
      "a string",
      null,
    ];
    for (const e of others) {
      assert.equal(isDatabaseUnavailable(e), false, String(e));
      assert.equal(asDatabaseUnavailable(e), e);
    }
    // A CaError that is already the service's word is never re-mapped, even with a connection cause.
    const own = new CaError("internal", "x", { cause: driverError("y", "ECONNREFUSED") });
    assert.equal(asDatabaseUnavailable(own), own);
  });

  describe("the error middleware", () => {
    let server: Server;
    let base: string;
    let thrown: () => unknown;

    before(async () => {
      const app = new Koa();
      app.use(errorMiddleware(createLogger("silent"), new Metrics({ defaultMetrics: false }), { retryAfterSeconds: 7 }));
      app.use((ctx) => {
        if (ctx.path === "/ready") {
          ctx.status = 503;
          ctx.body = { status: "not ready" };
          return;
        }
        throw thrown();
      });
      const handle = app.callback();
      server = createServer((req, res) => void handle(req, res));
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      await new Promise<void>((r) => server.close(() => r()));
    });

    it("answers a driver outage 503 with Retry-After, a disk-full 503, and a bug still 500 without it", async () => {
      thrown = () => driverError("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED");
      let r = await fetch(`${base}/x`);
      assert.equal(r.status, 503);
      assert.equal(r.headers.get("retry-after"), "7");
      const body = (await r.json()) as { type: string; detail: string };
      assert.equal(body.type, "urn:jpki-ca:problem:unavailable");
      assert.doesNotMatch(body.detail, /127\.0\.0\.1/, "no driver message in the answer");

      thrown = () => driverError("could not extend file \"base/1/2\": No space left on device", "53100");
      r = await fetch(`${base}/x`);
      assert.equal(r.status, 503);
      assert.equal(r.headers.get("retry-after"), "7");

      thrown = () => new CaError("unavailable", "HSM not ready");
      r = await fetch(`${base}/x`);
      assert.equal(r.status, 503);
      assert.equal(r.headers.get("retry-after"), "7");

      r = await fetch(`${base}/ready`);
      assert.equal(r.status, 503);
      assert.equal(r.headers.get("retry-after"), "7", "a 503 set by a route gets it too");

      thrown = () => new TypeError("a bug");
      r = await fetch(`${base}/x`);
      assert.equal(r.status, 500);
      assert.equal(r.headers.get("retry-after"), null);
    });
  });
});
