/**
 * Issuance and OCSP GET through the real service process on a seeded database (issue 13 item 2); one size
 * of bench/scale.bench.ts. The service is started as `npm start` runs it (startServiceProcess) on the
 * database the population was seeded into, so every figure reads and writes the full tables:
 *
 * - issuance: bench/issuance.bench.ts's driver — `POST /v1/issuances` over mutual-TLS HTTPS, RSA-2048 card
 *   keys, 1 worker (issuance's default: one core left to PostgreSQL and SoftHSM); warm-up, then `concurrency`
 *   in flight (maximum rate), then an open loop at half that rate (p99 at half load). New residents only
 *   (residentCode 10^10 + i, never a seeded one), each size continuing where the last stopped;
 * - OCSP GET, 2 workers (the responder's default on this machine), wrk over URLs drawn Zipf (s = 1) over
 *   the seeded residents and uniform over each resident's certificates (current and previous pair, both
 *   kinds: every certificate in the table can be drawn), CertIDs built from the CA certificates the service
 *   publishes. Responses are signed on their first request (docs/ocsp.md), so the run is reported in three
 *   parts: warm-up (runs over one draw until its URLs are all stored; the signatures per second the mix
 *   needed, from ocsp_responses, and the tryLater answers the live-signing gate gave), steady state (a
 *   fresh draw of the same mix: hot set now stored, its tail still unseen — its first requests signed
 *   live), and the warm-up's own draw replayed (every answer stored: the pre-signed throughput of P8);
 * - the service's resident set (all processes) after the OCSP runs, and its start-up time on the full tables.
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { buildRequest, certIdUnder } from "../test/unit/ocsp/fixtures.js";
import { closedLoop, openLoop, type Job, type LoadStats } from "./load-driver.js";
import { runWrk, type LoadResult } from "./ocsp-load.js";
import { activeGenerations, seededSerial } from "./population-seeder.js";
import { startServiceProcess, type ServiceProcess } from "./service-process.js";
import { demoTerminal, issuanceBody, jstToday, TerminalClient } from "./terminal-client.js";

const md5 = (s: string): string => createHash("md5").update(s).digest("hex");

export interface HttpAtSizeOptions {
  readonly varDir: string;
  readonly databaseUrl: string;
  readonly token: { readonly modulePath: string; readonly tokenLabel: string; readonly pin: string; readonly confPath: string };
  readonly client: pg.Client;
  /** Seeded residents 0 … residents − 1. */
  readonly residents: number;
  /** Card CSRs (2 per issuance) and the first pool index this size may use. */
  readonly cards: readonly string[];
  readonly firstIssuance: number;
  /** Seconds of each measured issuance phase and of each wrk run (default 8). */
  readonly seconds?: number;
  /** Issuances in flight at maximum rate (default 8, as bench/issuance.bench.ts). */
  readonly concurrency?: number;
  /** wrk connections (default 32: bench/ocsp.bench.ts's best on this machine). */
  readonly connections?: number;
  /** Zipf draws per URL file (default 50,000; wrk walks the file in order, looping). */
  readonly draws?: number;
  /**
   * Warm-up: wrk runs over the first draw until a run needs fewer signatures than 2 % of its answers
   * (every URL of the draw stored), at most this many runs (default 12).
   */
  readonly maxWarmupRuns?: number;
  readonly log: (line: string) => void;
}

export interface OcspRun extends LoadResult {
  /** Responses signed (and stored) per second during the run: the mix's live signing load. */
  readonly signaturesPerSecond: number;
}

export interface HttpAtSize {
  readonly startSeconds: number;
  readonly issuance: { readonly max: LoadStats; readonly half: LoadStats; readonly failures: readonly string[] };
  readonly nextIssuance: number;
  readonly warmup: readonly OcspRun[];
  readonly steady: OcspRun;
  readonly replay: OcspRun;
  readonly distinctInDraw: number;
  readonly rssMiB: number;
  /** The steady-state draw's URL file (the openssl baseline replays it: bench/scale-openssl.ts). */
  readonly steadyPathsFile: string;
}

/** A resident number drawn Zipf (s = 1) over `n` ranks, the ranks scattered over the residents. */
function zipfResident(n: number): number {
  const rank = Math.min(n - 1, Math.floor(Math.exp(Math.random() * Math.log(n + 1))) - 1);
  return Number((BigInt(rank) * 2_654_435_761n) % BigInt(n));
}

/** Resident set size of a process and its descendants, MiB (/proc). */
function treeRssMiB(pid: number): number {
  let kb = 0;
  const walk = (p: number): void => {
    try {
      kb += Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0);
      for (const c of readFileSync(`/proc/${p}/task/${p}/children`, "utf8").trim().split(/\s+/).filter(Boolean)) walk(Number(c));
    } catch {
      // gone
    }
  };
  walk(pid);
  return kb / 1024;
}

/**
 * `draws` GET paths, Zipf over residents, uniform over each drawn resident's certificates in the table.
 * Returns the paths file and the number of distinct certificates in it.
 */
async function zipfPaths(client: pg.Client, residents: number, draws: number, caDer: Record<"sign" | "auth", Uint8Array>, file: string): Promise<number> {
  const g = await activeGenerations(client);
  const picks = Array.from({ length: draws }, () => zipfResident(residents));
  const distinct = [...new Set(picks)];
  const existing = new Map<number, Array<{ serial: string; kind: "sign" | "auth" }>>();
  for (let i = 0; i < distinct.length; i += 20_000) {
    const candidates = distinct.slice(i, i + 20_000).flatMap((n) =>
      (["sign", "auth"] as const).flatMap((kind) => (["c", "p"] as const).map((slot) => ({ n, kind, serial: seededSerial(g[kind].prefix, kind, slot, n, md5) }))),
    );
    const { rows } = await client.query<{ serial: string }>("select serial from certificates where serial = any($1)", [candidates.map((c) => c.serial)]);
    const found = new Set(rows.map((r) => r.serial));
    for (const c of candidates) if (found.has(c.serial)) existing.set(c.n, [...(existing.get(c.n) ?? []), { serial: c.serial, kind: c.kind }]);
  }
  const chosen = picks.map((n) => {
    const certs = existing.get(n)!; // every seeded resident has at least a user-authentication certificate
    return certs[Math.floor(Math.random() * certs.length)]!;
  });
  const pathOf = new Map<string, string>();
  const lines = chosen.map((c) => {
    let p = pathOf.get(c.serial);
    if (!p) {
      p = `/ocsp/${encodeURIComponent(Buffer.from(buildRequest([certIdUnder(caDer[c.kind], c.serial)])).toString("base64"))}`;
      pathOf.set(c.serial, p);
    }
    return p;
  });
  writeFileSync(file, lines.join("\n"));
  return pathOf.size;
}

async function issuancePhases(service: ServiceProcess, o: HttpAtSizeOptions): Promise<HttpAtSize["issuance"] & { next: number }> {
  const seconds = o.seconds ?? 8;
  const concurrency = o.concurrency ?? 8;
  const terminal = demoTerminal(o.varDir);
  const client = new TerminalClient(service.httpsUrl, terminal.tls, Math.max(64, concurrency));
  try {
    await client.login(terminal.operatorId, terminal.password);
    const runId = `${process.pid}-${Date.now().toString(36)}`;
    const today = jstToday();
    const failures: string[] = [];
    const job: Job = async (i) => {
      const answer = await client.issue(issuanceBody(i, today, o.cards[2 * i]!, o.cards[2 * i + 1]!), `scale-${runId}-${i}`);
      if (answer.status === 201) return true;
      if (failures.length < 5) failures.push(`${answer.status} ${answer.body.toString("utf8").slice(0, 300)}`);
      return false;
    };
    let next = o.firstIssuance;
    const limit = (): number => Math.floor(o.cards.length / 2) - next;
    const phase = async (name: string, run: () => Promise<LoadStats>): Promise<LoadStats> => {
      const s = await run();
      next += s.ok + s.failed;
      o.log(`scale: issuance ${name}: ${s.ok} ok, ${s.failed} failed, ${(2 * s.rate).toFixed(0)} certs/s, p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms${s.exhausted ? " (card pool exhausted)" : ""}`);
      return s;
    };
    await phase("warm-up", () => closedLoop(job, { concurrency, seconds: 2, limit: limit(), first: next }));
    const max = await phase(`${concurrency} in flight`, () => closedLoop(job, { concurrency, seconds, limit: limit(), first: next }));
    const half = await phase(`open loop at ${(max.rate / 2).toFixed(1)}/s`, () => openLoop(job, { rate: max.rate / 2, seconds, limit: limit(), first: next }));
    if (max.exhausted || half.exhausted) failures.push("the card pool ran out");
    return { max, half, failures, next };
  } finally {
    client.close();
  }
}

/** Measures one seeded size through the service (see the file comment). */
export async function measureHttpAtSize(o: HttpAtSizeOptions): Promise<HttpAtSize> {
  const seconds = o.seconds ?? 8;
  const connections = o.connections ?? 32;
  const stored = async (): Promise<number> => Number((await o.client.query<{ n: string }>("select count(*) as n from ocsp_responses")).rows[0]?.n);
  const config = { crl: { access: "public" } }; // OCSP without an API key, as the openssl baseline
  let started = performance.now();
  let service = await startServiceProcess({ varDir: o.varDir, databaseUrl: o.databaseUrl, token: o.token, workers: 1, config });
  const startSeconds = (performance.now() - started) / 1000;
  o.log(`scale: service (1 worker) serving ${startSeconds.toFixed(1)} s after spawn`);
  let issuance: Awaited<ReturnType<typeof issuancePhases>>;
  try {
    issuance = await issuancePhases(service, o);
  } finally {
    await service.stop();
  }
  started = performance.now();
  service = await startServiceProcess({ varDir: o.varDir, databaseUrl: o.databaseUrl, token: o.token, workers: 2, config });
  o.log(`scale: service (2 workers) serving ${((performance.now() - started) / 1000).toFixed(1)} s after spawn`);
  try {
    const g = await activeGenerations(o.client);
    const caDer = {
      sign: new Uint8Array(await (await fetch(`${service.httpUrl}/ca/${g.sign.id}.crt`)).arrayBuffer()),
      auth: new Uint8Array(await (await fetch(`${service.httpUrl}/ca/${g.auth.id}.crt`)).arrayBuffer()),
    };
    const draws = o.draws ?? 50_000;
    const warmFile = join(o.varDir, "zipf-warmup.txt");
    const steadyFile = join(o.varDir, "zipf-steady.txt");
    const distinctInDraw = await zipfPaths(o.client, o.residents, draws, caDer, warmFile);
    await zipfPaths(o.client, o.residents, draws, caDer, steadyFile);
    o.log(`scale: Zipf draws of ${draws.toLocaleString("en-US")} requests: ${distinctInDraw.toLocaleString("en-US")} distinct certificates`);
    const run = async (name: string, pathsFile: string): Promise<OcspRun> => {
      const before = await stored();
      const r = runWrk({ origin: service.httpUrl, mode: "get", pathsFile, seconds, connections });
      const signaturesPerSecond = ((await stored()) - before) / r.seconds;
      o.log(`scale: OCSP ${name}: ${Math.round(r.rate)}/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${signaturesPerSecond.toFixed(0)} signatures/s, ${r.mismatches} tryLater/errors, ${r.non2xx} non-2xx`);
      return { ...r, signaturesPerSecond };
    };
    const warmup: OcspRun[] = [];
    for (let i = 0; i < (o.maxWarmupRuns ?? 12); i++) {
      const r = await run(`warm-up ${i + 1}`, warmFile);
      warmup.push(r);
      if (r.signaturesPerSecond < 0.02 * r.rate) break;
    }
    const steady = await run("steady state (fresh draw)", steadyFile);
    const replay = await run("warm-up draw replayed (all stored)", warmFile);
    const rssMiB = treeRssMiB(service.pid);
    o.log(`scale: service RSS (2 workers + supervisor) ${rssMiB.toFixed(0)} MiB`);
    return { startSeconds, issuance: issuance, nextIssuance: issuance.next, warmup, steady, replay, distinctInDraw, rssMiB, steadyPathsFile: steadyFile };
  } finally {
    await service.stop();
  }
}
