/**
 * Where the time of one issuance goes: the IssuanceService wired as api/main.ts buildHandlers wires it
 * (PostgreSQL stores, SoftHSM RSA-2048 CA keys, the same authorities), but called in-process, without
 * HTTP, TLS and the session middleware, and with every port wrapped in a timer.
 *
 * Spans of one pair issuance (one at a time, so the spans add up to the whole):
 *   request parse (JSON body → typed application) · idempotency lookup (DB) · CSR parse + proof-of-
 *   possession check (2 CSRs) · transaction 1 (record before sign: resident check, key-reuse and
 *   live-certificate queries, validity, TBS encoding, inserts) · HSM sign (2 in parallel, certificate
 *   assembly and self-check included) · transaction 2 (store certificates, outbox, supersede, answer,
 *   audit append under the audit_head row lock).
 * Then the same service with `concurrency` issuances in flight: the in-process ceiling (no HTTP), and how
 * the spans stretch under contention. And parseCsr on its own, split into its node:crypto calls.
 *
 * Run: `npx tsx bench/issuance-spans.ts [--count 200] [--concurrency 16] [--seconds 5]`
 * (DATABASE_URL or a throwaway PostgreSQL, as the issuance benchmark).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash, createPublicKey, verify, type KeyObject } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadConfig } from "../api/config.js";
import { buildAuthorities } from "../api/wiring/issuing-authorities.js";
import { checkCaKeys, openService, type Service } from "../api/main.js";
import { createAliasFormatter } from "../ca/residents/alias-format.js";
import { parseCsr } from "../ca/issuance/csr.js";
import type { AuthorityResolver, IssuingAuthority } from "../ca/issuance/issuing-authority.js";
import { IssuanceService } from "../ca/issuance/issuance-service.js";
import { KnexResidentMunicipalityStore } from "../db/resident-municipality-store.js";
import { runCeremony } from "../cli/ceremony.js";
import { createTestToken } from "../test/support/softhsm.js";
import { cardCsrPool } from "./card-csr-pool.js";
import { closedLoop } from "./load-driver.js";
import { ensurePostgres } from "./postgres-server.js";
import { cpuSince, cpuSnapshot } from "./process-cpu.js";
import { createDatabase } from "./service-process.js";
import { issuanceBody, jstToday } from "./terminal-client.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Accumulated durations by name. */
class Spans {
  readonly totals = new Map<string, { n: number; ms: number }>();
  add(name: string, ms: number): void {
    const t = this.totals.get(name) ?? { n: 0, ms: 0 };
    t.n++;
    t.ms += ms;
    this.totals.set(name, t);
  }
  reset(): void {
    this.totals.clear();
  }
  /** Lines "name  calls/issuance  ms/issuance". */
  report(issuances: number): string[] {
    return [...this.totals]
      .sort((a, b) => b[1].ms - a[1].ms)
      .map(([name, t]) => `  ${name.padEnd(44)} ${(t.n / issuances).toFixed(1).padStart(5)} calls ${(t.ms / issuances).toFixed(2).padStart(8)} ms ${(t.ms / t.n).toFixed(2).padStart(7)} ms/call`);
  }
}

/** Wraps every method of `target` so that each call's duration lands in `spans` as `label.method`. */
function timed<T extends object>(label: string, target: T, spans: Spans, hook?: (name: string, start: number, end: number) => void): T {
  return new Proxy(target, {
    get(t, prop, receiver) {
      const value = Reflect.get(t, prop, receiver) as unknown;
      if (typeof value !== "function") return value;
      const name = `${label}.${String(prop)}`;
      return (...args: unknown[]) => {
        const start = performance.now();
        const done = (): void => {
          const end = performance.now();
          spans.add(name, end - start);
          hook?.(name, start, end);
        };
        const out = (value as (...a: unknown[]) => unknown).apply(t, args);
        if (out instanceof Promise) return out.finally(done);
        done();
        return out;
      };
    },
  });
}

function timedAuthorities(resolver: AuthorityResolver, spans: Spans): AuthorityResolver {
  const wrapped = new Map<IssuingAuthority, IssuingAuthority>();
  const wrap = (a: IssuingAuthority): IssuingAuthority => {
    let w = wrapped.get(a);
    if (!w) {
      w = timed(`authority(${a.kind})`, a, spans);
      wrapped.set(a, w);
    }
    return w;
  };
  return { active: (kind) => wrap(resolver.active(kind)), byCaId: (id) => (resolver.byCaId(id) ? wrap(resolver.byCaId(id)!) : undefined) };
}

interface Wired {
  issuance: IssuanceService;
  spans: Spans;
  /** Marks of the issuance in progress (sequential mode). */
  marks: Map<string, number>;
  queries: { count: number };
  /** Latency of each SQL statement (from sent to answered), by statement shape. */
  statements: Spans;
}

/** IssuanceService as buildHandlers wires it, with timers on every port. */
async function wire(service: Service): Promise<Wired> {
  const spans = new Spans();
  const marks = new Map<string, number>();
  const mark = (name: string, start: number, end: number): void => {
    if (!marks.has(`${name}:start`)) {
      marks.set(`${name}:start`, start);
      marks.set(`${name}:end`, end);
    }
  };
  const signers = await checkCaKeys(service);
  const authorities = buildAuthorities(await service.stores.caGenerations.list(), signers, { publicBaseUrl: service.config.publicBaseUrl });
  const { stores, db } = service;
  // Which transaction of its issuance a call is (1: reserve, 2: complete), also with many in flight.
  const perIssuance = new AsyncLocalStorage<{ tx: number }>();
  const transactions = {
    transaction: <T>(work: (tx: unknown) => Promise<T>): Promise<T> => {
      const ctx = perIssuance.getStore();
      const name = `transaction ${ctx && ++ctx.tx === 1 ? 1 : 2}`;
      const start = performance.now();
      return db.transaction(work as never).finally(() => {
        const end = performance.now();
        spans.add(`${name} (whole)`, end - start);
        mark(name, start, end);
      }) as Promise<T>;
    },
  };
  const queries = { count: 0 };
  const statements = new Spans();
  const sentAt = new Map<string, { sql: string; at: number }>();
  const shape = (sql: string): string => sql.replace(/\s+/g, " ").replace(/\$\d+(, )?/g, "").slice(0, 70);
  db.knex.on("query", (q: { __knexQueryUid: string; sql: string }) => {
    queries.count++;
    sentAt.set(q.__knexQueryUid, { sql: shape(q.sql), at: performance.now() });
  });
  db.knex.on("query-response", (_r: unknown, q: { __knexQueryUid: string }) => {
    const s = sentAt.get(q.__knexQueryUid);
    if (s) statements.add(s.sql, performance.now() - s.at);
    sentAt.delete(q.__knexQueryUid);
  });
  const issuance = new IssuanceService({
    clock: service.clock,
    random: service.random,
    transactions: transactions as never,
    certificates: timed("certificates", stores.certificates, spans),
    issuances: timed("issuances", stores.issuances, spans, mark),
    residents: timed("residents", stores.residents, spans),
    audit: timed("audit", stores.audit, spans),
    authorities: timedAuthorities(authorities, spans),
    aliasFormatter: createAliasFormatter(),
    residentMunicipalities: new KnexResidentMunicipalityStore(service.db),
  });
  return {
    issuance: {
      issue: (...args: Parameters<IssuanceService["issue"]>) => perIssuance.run({ tx: 0 }, () => issuance.issue(...args)),
    } as IssuanceService,
    spans,
    marks,
    queries,
    statements,
  };
}

/** parseCsr and its node:crypto parts, per CSR (µs). */
function csrCosts(csrs: readonly string[]): string[] {
  const n = csrs.length;
  const time = (fn: (c: string, i: number) => unknown): number => {
    const s = performance.now();
    csrs.forEach(fn);
    return ((performance.now() - s) * 1000) / n;
  };
  const ders = csrs.map((c) => Buffer.from(c.replace(/-----[^-]+-----|\s/g, ""), "base64"));
  // SPKI at a fixed offset is good enough here: every pool CSR has the same layout.
  const spkis = csrs.map((c) => new Uint8Array(parseCsr(c, "x").publicKey));
  time((c) => parseCsr(c, "x")); // warm-up
  const whole = time((c) => parseCsr(c, "x"));
  const keys: KeyObject[] = [];
  const create = time((_, i) => keys.push(createPublicKey({ key: Buffer.from(spkis[i]!), format: "der", type: "spki" })));
  const exportSpki = time((_, i) => keys[i]!.export({ type: "spki", format: "der" }));
  const sig = (d: Buffer): Buffer => d.subarray(d.length - 256);
  const info = (d: Buffer): Buffer => d.subarray(4, 4 + ((d[6]! << 8) | d[7]!) + 4);
  const verifyKeyObject = time((_, i) => verify("sha256", info(ders[i]!), keys[i]!, sig(ders[i]!)));
  const hash = time((_, i) => createHash("sha256").update(spkis[i]!).digest());
  return [
    `parseCsr (RSA-2048 CSR, whole)          ${whole.toFixed(0).padStart(6)} µs`,
    `  createPublicKey(SPKI DER)             ${create.toFixed(0).padStart(6)} µs (parseCsr calls it once)`,
    `  KeyObject.export(spki, der)           ${exportSpki.toFixed(0).padStart(6)} µs (canonicalSpki)`,
    `  crypto.verify(sha256, KeyObject)      ${verifyKeyObject.toFixed(0).padStart(6)} µs (proof of possession)`,
    `  sha256 of the SPKI                    ${hash.toFixed(0).padStart(6)} µs`,
  ];
}

export async function profileIssuanceSpans(opts: { count: number; concurrency: number; seconds: number; log: (line: string) => void }): Promise<void> {
  const { log } = opts;
  const cards = cardCsrPool(2 * (opts.count + 4000), log);
  const postgres = ensurePostgres(log);
  const token = createTestToken("bench-spans");
  const database = await createDatabase(postgres.url, "ca_spans");
  const varDir = join(repoRoot, "var/bench/spans");
  rmSync(varDir, { recursive: true, force: true });
  mkdirSync(varDir, { recursive: true });
  const config = loadConfig(
    { CA_VAR_DIR: varDir, DATABASE_URL: database.url, SOFTHSM2_CONF: token.confPath, CA_HSM_TOKEN_LABEL: token.tokenLabel, CA_HSM_PIN: token.pin, CA_LOG_LEVEL: "warn" },
    repoRoot,
  );
  const service = await openService(config);
  try {
    await runCeremony(service, () => undefined);
    const w = await wire(service);
    const today = jstToday();
    let next = 0;
    const issueOne = async (): Promise<void> => {
      const i = next++;
      await w.issuance.issue({ terminalId: "demo-terminal-1", operatorId: "demo-terminal-operator", idempotencyKey: `spans-${i}`, municipalityCode: "131041" }, JSON.parse(issuanceBody(i, today, cards[2 * i]!, cards[2 * i + 1]!)));
    };
    for (let k = 0; k < 30; k++) await issueOne(); // warm-up: JIT, pool connections, key handles
    w.spans.reset();
    w.statements.reset();
    w.queries.count = 0;

    const phases = new Map<string, number>();
    const addPhase = (name: string, ms: number): void => void phases.set(name, (phases.get(name) ?? 0) + ms);
    for (let k = 0; k < opts.count; k++) {
      w.marks.clear();
      const t0 = performance.now();
      await issueOne();
      const t1 = performance.now();
      const m = (k2: string): number => w.marks.get(k2) ?? NaN;
      addPhase("request parse (body → application)", m("issuances.findByKey:start") - t0);
      addPhase("idempotency lookup (1 query)", m("issuances.findByKey:end") - m("issuances.findByKey:start"));
      addPhase("2 × CSR parse + signature verify", m("transaction 1:start") - m("issuances.findByKey:end"));
      addPhase("transaction 1 (reserve, record pending)", m("transaction 1:end") - m("transaction 1:start"));
      addPhase("2 × HSM sign, in parallel (+ assemble, self-check)", m("transaction 2:start") - m("transaction 1:end"));
      addPhase("transaction 2 (store, outbox, supersede, audit)", m("transaction 2:end") - m("transaction 2:start"));
      addPhase("answer", t1 - m("transaction 2:end"));
      addPhase("TOTAL", t1 - t0);
    }
    const n = opts.count;
    log(`one pair issuance at a time, in-process (no HTTP), mean of ${n}; ${(w.queries.count / n).toFixed(1)} SQL statements per issuance (BEGIN/COMMIT included)`);
    for (const [name, ms] of phases) log(`  ${name.padEnd(52)} ${(ms / n).toFixed(2).padStart(7)} ms`);
    log("inside, by port call (per issuance):");
    for (const line of w.spans.report(n)) log(line);
    log("SQL statements, sent → answered (per issuance):");
    for (const line of w.statements.report(n).slice(0, 8)) log(line);

    // The same service, `concurrency` in flight.
    w.spans.reset();
    w.statements.reset();
    w.queries.count = 0;
    const before = cpuSnapshot(process.pid, database.name);
    const stats = await closedLoop(
      async () => {
        await issueOne();
        return true;
      },
      { concurrency: opts.concurrency, seconds: opts.seconds, limit: Math.floor(cards.length / 2) - next - 1, first: 0 },
    );
    const cpu = cpuSince(before, cpuSnapshot(process.pid, database.name));
    const per = (s: number): string => `${((1000 * s) / stats.ok).toFixed(2)} ms`;
    log(
      `${opts.concurrency} in flight, in-process: ${stats.rate.toFixed(1)} issuances/s (${(2 * stats.rate).toFixed(0)} certs/s), p50 ${stats.p50.toFixed(1)} ms, p99 ${stats.p99.toFixed(1)} ms; ` +
        `CPU per issuance: this process ${per(cpu.service)} (incl. SoftHSM threads), PostgreSQL ${per(cpu.postgres)}, rest of machine ${per(cpu.machineBusy - cpu.service - cpu.postgres)}`,
    );
    log("inside, by port call under load (per issuance; time includes waiting for the pool, the lock, the CPU):");
    for (const line of w.spans.report(stats.ok).slice(0, 12)) log(line);
    log("SQL statements under load, sent → answered (per issuance; the audit_head lock wait shows in its SELECT … FOR UPDATE):");
    for (const line of w.statements.report(stats.ok).slice(0, 10)) log(line);
    log("parseCsr on its own:");
    for (const line of csrCosts(cards.slice(0, 300))) log(`  ${line}`);
  } finally {
    await service.close();
    await database.drop();
    postgres.release();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { count: { type: "string" }, concurrency: { type: "string" }, seconds: { type: "string" } } });
  await profileIssuanceSpans({ count: Number(values.count ?? 200), concurrency: Number(values.concurrency ?? 16), seconds: Number(values.seconds ?? 5), log: (l) => console.log(l) });
}
