/**
 * CA_WORKERS=2: `npm start` as a supervisor with two service processes sharing the listeners, on
 * PostgreSQL and SoftHSM, checked from outside: both serve, /metrics adds up both, a revocation
 * committed in the database is answered by every process within a second (openssl reads the
 * answers), a CA generation made beside it is taken into use by every process, CRL "issue now" works
 * whichever process answers, every background job runs in exactly one worker under its job lease
 * (docs/cluster.md) and moves to the other when its holder is killed, a killed worker is replaced,
 * SIGTERM stops them all.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import pg from "pg";
import { generateSerial, partitionOf } from "../../../ca/issuance/serial.js";
import { loadConfig, ConfigError } from "../../../api/config.js";
import { processAlive } from "../../../bench/process-cpu.js";
import { METRICS_AUTHORIZATION, createDatabase, serviceEnv, startServiceProcess, type ServiceProcess } from "../../../bench/service-process.js";
import { buildRequest, certIdUnder } from "../../unit/ocsp/fixtures.js";
import { readResponse } from "../../unit/ocsp/read-response.js";
import { request, requestJson } from "../../support/https-client.js";
import { createTestToken, type TestToken } from "../../support/softhsm.js";
import { requirePostgresUrl } from "../../support/database.js";

/** GET over a new connection each time (the supervisor hands connections to the workers in turn). */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, headers: { ...headers, connection: "close" } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      })
      .on("error", reject);
  });
}

const pidsOf = (log: string): number[] => [...log.matchAll(/^worker \d+ serving, pid (\d+)$/gm)].map((m) => Number(m[1]));

describe("CA_WORKERS=2: a supervisor and two service processes (PostgreSQL, SoftHSM)", function () {
  this.timeout(240_000);
  let token: TestToken;
  let database: Awaited<ReturnType<typeof createDatabase>>;
  let service: ServiceProcess | undefined;
  let client: pg.Client;
  let dir: string;

  before(async function () {
    const url = requirePostgresUrl(this);
    token = createTestToken("workers-test");
    database = await createDatabase(url, "ca_workers_test");
    dir = join(process.cwd(), "var/test/workers");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    service = await startServiceProcess({ varDir: dir, databaseUrl: database.url, token, workers: 2 });
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });

  after(async () => {
    await client?.end();
    await service?.stop();
    await database?.drop();
    if (token) execFileSync("softhsm2-util", ["--delete-token", "--token", token.tokenLabel], { env: { ...process.env, SOFTHSM2_CONF: token.confPath }, stdio: "ignore" });
  });

  it("refuses more than one worker on the embedded database, naming the field", () => {
    assert.throws(() => loadConfig({ CA_WORKERS: "2", CA_HSM_PIN: "1234" }), (e: unknown) => e instanceof ConfigError && /workers: more than one worker needs PostgreSQL/.test(e.message));
    assert.throws(() => loadConfig({ CA_WORKERS: "two", CA_HSM_PIN: "1234" }), (e: unknown) => e instanceof ConfigError && /CA_WORKERS: must be an integer/.test(e.message));
    assert.equal(loadConfig({ CA_WORKERS: "3", CA_HSM_PIN: "1234", DATABASE_URL: "postgres://x@127.0.0.1/y" }).workers, 3);
    assert.equal(loadConfig({ CA_HSM_PIN: "1234" }).workers, 1);
  });

  it("starts two workers, each in its own process, serving the same ports", async () => {
    const log = readFileSync(service!.logFile, "utf8");
    assert.match(log, /^worker 1 serving, pid \d+$/m);
    assert.match(log, /^worker 2 serving, pid \d+$/m);
    const pids = pidsOf(log);
    assert.equal(new Set(pids).size, 2);
    assert.ok(!pids.includes(service!.pid));
    assert.match(log, / with 2 workers$/m);
    for (let i = 0; i < 6; i++) assert.equal((await get(`${service!.httpUrl}/healthz`)).status, 200);
  });

  it("/metrics counts the requests of both workers, whichever answers the scrape", async () => {
    const count = async (): Promise<number> => {
      const text = (await get(`${service!.httpUrl}/metrics`, METRICS_AUTHORIZATION)).body.toString("utf8");
      const m = /^ca_http_requests_total\{method="GET",route="\/readyz",status="200"\} (\d+)$/m.exec(text);
      return m ? Number(m[1]) : 0;
    };
    const before = await count();
    for (let i = 0; i < 10; i++) assert.equal((await get(`${service!.httpUrl}/readyz`)).status, 200);
    // Ten connections, handed out in turn: about five per worker. Only the sum over both is 10.
    assert.equal((await count()) - before, 10);
  });

  it("a revocation is answered as revoked by every worker within a second (openssl reads the answers)", async () => {
    const ca = (await get(`${service!.httpUrl}/ca/auth-g1.crt`)).body;
    const serial = generateSerial(1, { bytes: (n) => new Uint8Array(randomBytes(n)) });
    const partition = partitionOf(serial, 16);
    const now = new Date();
    await client.query(
      `insert into certificates (serial, ca_id, kind, status, not_before, not_after, partition, tbs, public_key_sha256, subject_id, recorded, created_at, updated_at)
       values ($1, 'auth-g1', 'auth', 'valid', $2, $3, $4, '\\x3000', $5, 'workers-test', '{}', $2, $2)`,
      [serial, now, new Date(now.getTime() + 86_400_000), partition, createHash("sha256").update(serial).digest("hex")],
    );
    await client.query(`insert into outbox (topic, payload) values ('certificate.issued', $1)`, [JSON.stringify({ serial, caId: "auth-g1", partition })]);
    const certId = certIdUnder(new Uint8Array(ca), serial);
    const url = `${service!.httpUrl}/ocsp/${encodeURIComponent(Buffer.from(buildRequest([certId])).toString("base64"))}`;
    const apiKey = (JSON.parse(readFileSync(join(dir, "demo/relying-party.json"), "utf8")) as { apiKey: string }).apiKey;
    const statusOf = async (): Promise<string> => {
      const file = join(dir, "answer.der");
      // CRL and OCSP are for registered relying parties by default (docs/api.md §3): the demo one's API key.
      writeFileSync(file, (await get(url, { authorization: `Bearer ${apiKey}` })).body);
      const text = execFileSync("openssl", ["ocsp", "-respin", file, "-resp_text", "-noverify"], { encoding: "utf8" });
      return /Cert Status: (\w+)/.exec(text)?.[1] ?? "none";
    };
    // Pre-signed from the outbox by the worker holding the "ocsp-presigner" lease; both answer good (several fresh connections).
    const deadline = Date.now() + 10_000;
    while ((await statusOf()) !== "good" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 6; i++) assert.equal(await statusOf(), "good");

    await client.query("begin");
    await client.query(`update certificates set status = 'revoked', revocation_reason = 'keyCompromise', revoked_at = now() where serial = $1`, [serial]);
    await client.query(`insert into outbox (topic, payload) values ('certificate.revoked', $1)`, [JSON.stringify({ serial, caId: "auth-g1", partition, reason: "keyCompromise" })]);
    await client.query("commit");
    const committed = Date.now();
    await new Promise((r) => setTimeout(r, 1000));
    // One second after the commit, every answer from either worker says revoked.
    const statuses = [];
    for (let i = 0; i < 8; i++) statuses.push(await statusOf());
    assert.deepEqual(statuses, Array(8).fill("revoked"), `answers ${Date.now() - committed} ms after the commit`);
  });

  it("a CA generation made beside the running service (CLI) is answered for by every worker within the poll period", async function () {
    // `ca generation new auth` in its own process, on the same database, token and var dir.
    execFileSync(process.execPath, ["--import", "tsx", "cli/main.ts", "ca", "generation", "new", "auth"], {
      cwd: process.cwd(),
      env: serviceEnv({ varDir: dir, databaseUrl: database.url, token, workers: 2 }),
      stdio: "pipe",
      timeout: 120_000,
    });
    const ca = await get(`${service!.httpUrl}/ca/auth-g2.crt`);
    assert.equal(ca.status, 200);
    // A serial of the new generation it never issued: its responder answers "revoked" (non-issued);
    // a process that has not taken the generation into use answers "unauthorized" (6).
    const serial = generateSerial(66, { bytes: (n) => new Uint8Array(randomBytes(n)) });
    const url = `${service!.httpUrl}/ocsp/${encodeURIComponent(Buffer.from(buildRequest([certIdUnder(new Uint8Array(ca.body), serial)])).toString("base64"))}`;
    const apiKey = (JSON.parse(readFileSync(join(dir, "demo/relying-party.json"), "utf8")) as { apiKey: string }).apiKey;
    const status = async (): Promise<number> => readResponse((await get(url, { authorization: `Bearer ${apiKey}` })).body).status;
    const started = Date.now();
    let inARow = 0;
    // Fresh connections alternate between the workers: 8 successes in a row means both answer.
    while (inARow < 8 && Date.now() - started < 45_000) {
      inARow = (await status()) === 0 ? inARow + 1 : 0;
      if (inARow === 0) await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(inARow, 8, `both workers answer for auth-g2 (${Date.now() - started} ms after it was made)`);
    console.log(`      (auth-g2 answered by both workers ${Date.now() - started} ms after it was made)`);
  });

  it("CRL 'issue now' answered by either worker publishes strictly higher CRL numbers each time", async () => {
    const demo = join(dir, "demo");
    const tls = { ca: readFileSync(join(demo, "tls-ca.pem"), "utf8"), cert: readFileSync(join(demo, "admin.pem"), "utf8"), key: readFileSync(join(demo, "admin.key"), "utf8") };
    const operators = JSON.parse(readFileSync(join(demo, "operators.json"), "utf8")) as Record<string, { operatorId: string; password: string }>;
    const login = await requestJson(`${service!.httpsUrl}/v1/sessions`, "POST", operators["ca-operator"], tls);
    assert.equal(login.status, 201, login.body.toString("utf8"));
    const token = login.json<{ token: string }>().token;
    // A new connection per request: the supervisor hands them to the two workers in turn.
    const numbers: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await request(`${service!.httpsUrl}/v1/admin/crl/auth-g1/run`, { method: "POST", tls, headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.status, 200, r.body.toString("utf8"));
      const body = r.json<{ issued: number; failed: number; partitions: Array<{ partition: number; fullCrlNumber?: number }> }>();
      assert.equal(body.failed, 0);
      assert.equal(body.issued, 16, "every partition of auth-g1");
      numbers.push(body.partitions.find((p) => p.partition === 0)!.fullCrlNumber!);
    }
    for (let i = 1; i < numbers.length; i++) assert.ok(numbers[i]! > numbers[i - 1]!, `CRL numbers ${numbers.join(", ")}`);
    const { rows } = await client.query<{ n: string }>("select count(*) as n from audit_log where action = 'crl.run'");
    assert.equal(Number(rows[0]?.n), 4, "each run audited once");
  });

  it("every background job runs in one worker; killed, its jobs move to the other within the lease TTL, and it is replaced", async () => {
    // The lease holder is host:pid:random (ca/cluster/holder-id.ts).
    const leases = async (): Promise<Array<{ job: string; pid: number; live: boolean }>> =>
      (await client.query<{ job: string; holder: string; live: boolean }>("select job, holder, expires_at > now() as live from job_leases order by job")).rows.map((r) => ({ job: r.job, pid: Number(r.holder.split(":").at(-2)), live: r.live }));
    const pids = pidsOf(readFileSync(service!.logFile, "utf8"));
    const held = await leases();
    assert.equal(held.length, 9, "nine singleton jobs (docs/cluster.md)");
    assert.ok(held.every((l) => l.live && pids.includes(l.pid)), "each held by one of the workers");
    const holder = held[0]!.pid;
    const ofHolder = held.filter((l) => l.pid === holder).map((l) => l.job);
    process.kill(holder, "SIGKILL"); // no release: the leases expire
    const killed = Date.now();
    let moved: number | undefined;
    while (moved === undefined && Date.now() - killed < 30_000) {
      await new Promise((r) => setTimeout(r, 200));
      const now = await leases();
      // The other worker, or the one started in place of the killed one, whichever is first.
      if (ofHolder.every((job) => now.some((l) => l.job === job && l.live && l.pid !== holder && processAlive(l.pid)))) moved = Date.now() - killed;
    }
    assert.ok(moved !== undefined, `the killed worker's jobs (${ofHolder.join(", ")}) held by a live worker`);
    assert.ok(moved <= 15_000, `moved within 15 s (${moved} ms)`);
    console.log(`      (${ofHolder.length} jobs moved to a live worker ${moved} ms after their holder was killed)`);

    const deadline = Date.now() + 60_000;
    let replaced: RegExpExecArray | null = null;
    while (!replaced && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      replaced = /^worker 3 serving, pid (\d+)$/m.exec(readFileSync(service!.logFile, "utf8"));
    }
    assert.notEqual(replaced, null, "a new worker serving");
    assert.match(readFileSync(service!.logFile, "utf8"), new RegExp(`^worker \\d exited \\(SIGKILL\\); starting another in 1000 ms$`, "m"));
    for (let i = 0; i < 4; i++) assert.equal((await get(`${service!.httpUrl}/healthz`)).status, 200);
  });

  it("SIGTERM stops the supervisor and every worker", async () => {
    const pids = pidsOf(readFileSync(service!.logFile, "utf8"));
    await service!.stop();
    const stopped = service!;
    service = undefined;
    assert.deepEqual([stopped.pid, ...pids].filter(processAlive), []);
    assert.match(readFileSync(stopped.logFile, "utf8"), /^SIGTERM: stopping 2 workers$/m);
  });
});
