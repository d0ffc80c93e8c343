/**
 * Partition CRL build + sign at JPKI scale (issue 6 §9), beside `openssl ca -gencrl` on an index.txt of
 * the same entries, measured in the same run:
 *
 * 1. **1M entries, in-memory source**: entries generated page by page (as a cursor hands them over),
 *    encoded by the direct DER writer, signed by a SoftHSM RSA-2048 key through the digest path, verified.
 *    Time and peak RSS (a fresh child process: RSS high-water mark minus RSS before the build).
 * 2. **1M entries from PostgreSQL**: the same entries as rows of `certificates` (one partition), read in
 *    keyset pages by KnexCrlStore, built, signed, verified and published (full + its delta) by CrlIssuer.
 * 3. **25M revoked, every partition re-issued**: a sample of 16 partitions × 12,500 entries run through
 *    the scheduler (`runNow`, parallelism 2), extrapolated linearly to 2,000 such partitions. Said so in
 *    the row name: it is an extrapolation, not a 25M-row run.
 * Baseline: `openssl ca -gencrl` (software RSA-2048 key, sha256) over the same 1M entries, wall time and
 * max RSS from /usr/bin/time.
 *
 * Run alone: `npx tsx bench/crl.bench.ts [entries]` (prints a table). Needs PostgreSQL for 2–3
 * (DATABASE_URL, or the throwaway server of scripts/services.sh); without it those rows are skipped.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildCaCertificate } from "../ca/profiles/ca-certificate.js";
import { defaultCaProfiles } from "../ca/profiles/ca-profile.js";
import { systemClock } from "../ca/ports.js";
import type { CaGeneration } from "../ca/types.js";
import { parseIssuerCertificate } from "../ca/x509/issuer-certificate.js";
import { buildCrl } from "../crl/crl-builder.js";
import { createCrlService } from "../crl/crl-service.js";
import { parseCrlSettings } from "../crl/crl-settings.js";
import type { RevokedEntry } from "../crl/revoked-entry-der.js";
import { KnexCrlStore } from "../db/crl-store.js";
import { KnexCaGenerationStore } from "../db/ca-generation-store.js";
import { KnexOutboxStore } from "../db/outbox-store.js";
import { Pkcs11Hsm } from "../hsm/pkcs11-hsm.js";
import { openTestDatabase } from "../test/support/database.js";
import { createTestToken, deleteTestToken } from "../test/support/softhsm.js";
import { opensslGenCrl } from "./openssl-gencrl.js";
import { formatBenchTable, withBaseline, type BenchResult } from "./result.js";

const here = fileURLToPath(import.meta.url);
const repoRoot = resolve(here, "../..");
/** Reasons cycled over the entries (openssl's index needs a hold instruction for certificateHold, so none here). */
const reasons = [1, 3, 4, 5] as const;
const reasonNames: Record<number, string> = { 1: "keyCompromise", 3: "affiliationChanged", 4: "superseded", 5: "cessationOfOperation" };
const REVOKED_FROM = Date.UTC(2026, 5, 1) / 1000;

/** Entry i of the synthetic set: the same in memory, in PostgreSQL (SQL below) and in index.txt. */
export function syntheticSerial(prefix: string, i: number): string {
  return prefix + createHash("md5").update(String(i)).digest("hex").slice(0, 30);
}

export interface BenchCrlOptions {
  /** Entries of the big partition (default 1,000,000; the issue's figure). */
  readonly entries?: number;
  /** Sample for the 25M extrapolation: partitions × entries each (default 16 × 12,500). */
  readonly samplePartitions?: number;
  readonly sampleEntriesPerPartition?: number;
  /** Skip the PostgreSQL rows (default: run them when a server is available). */
  readonly postgres?: boolean;
  readonly log?: (line: string) => void;
}

interface ChildFigures {
  readonly ms: number;
  readonly rssDeltaMb: number;
  /** The child's whole-life RSS high-water mark (Node, tsx, pkijs, SoftHSM and the build). */
  readonly peakRssMb: number;
  readonly size: number;
  readonly entries: number;
  readonly sampleMs?: number;
  readonly sampleEntries?: number;
}

export async function benchCrl(options: BenchCrlOptions = {}): Promise<BenchResult[]> {
  const n = options.entries ?? 1_000_000;
  const log = options.log ?? ((l: string) => console.error(l));
  const dir = join(repoRoot, `var/test/bench-crl-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    log(`openssl ca -gencrl over ${n.toLocaleString("en-US")} index.txt entries`);
    const openssl = opensslGenCrlOf(dir, n);
    const mb = (kb: number): number => kb / 1024;
    const results: BenchResult[] = [];
    const label = `${(n / 1e6).toString()}M entries`;

    log(`in-memory source: build + SoftHSM sign (child process)`);
    const mem = await child(["memory", String(n)]);
    results.push({
      ...withBaseline(`CRL ${label}: build+sign, in-memory pages, SoftHSM RSA-2048 digest`, mem.ms / 1000, "s", { name: "openssl ca -gencrl", value: openssl.seconds }),
      target: { op: "<=", value: 3 },
    });
    results.push({
      ...withBaseline(`CRL ${label}: process peak RSS (whole child process)`, mem.peakRssMb, "MB", { name: "openssl ca -gencrl max RSS", value: mb(openssl.maxRssKb) }),
      target: { op: "<=", value: 300 },
    });
    results.push(withBaseline(`CRL ${label}: RSS growth during build+sign`, mem.rssDeltaMb, "MB", { name: "openssl ca -gencrl max RSS", value: mb(openssl.maxRssKb) }));

    let url = process.env.DATABASE_URL;
    if (options.postgres !== false && !url) {
      try {
        const { ensurePostgres } = await import("./postgres-server.js");
        url = ensurePostgres(log).url;
      } catch (e) {
        log(`PostgreSQL unavailable, skipping the database rows: ${(e as Error).message}`);
      }
    }
    if (options.postgres !== false && url) {
      const parts = options.samplePartitions ?? 16;
      const each = options.sampleEntriesPerPartition ?? 12_500;
      log(`PostgreSQL source: ${n.toLocaleString("en-US")} rows in one partition + ${parts} × ${each.toLocaleString("en-US")} sample (child process)`);
      const db = await child(["postgres", String(n), String(parts), String(each)], { DATABASE_URL: url });
      results.push(withBaseline(`CRL ${label}: rows → build+sign+publish (full + delta), PostgreSQL`, db.ms / 1000, "s", { name: "openssl ca -gencrl", value: openssl.seconds }));
      results.push(withBaseline(`CRL ${label} from PostgreSQL: process peak RSS`, db.peakRssMb, "MB", { name: "openssl ca -gencrl max RSS", value: mb(openssl.maxRssKb) }));
      const perEntry = db.sampleMs! / db.sampleEntries!;
      results.push({
        name: `all partitions of 25M revoked re-issued (EXTRAPOLATED from ${parts} × ${each.toLocaleString("en-US")} via runNow)`,
        value: (perEntry * 25e6) / 1000,
        unit: "s",
        target: { op: "<=", value: 300 },
      });
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes key, CA, config and index.txt; runs `openssl ca -gencrl` under /usr/bin/time (wall time, max RSS). */
function opensslGenCrlOf(dir: string, n: number): { seconds: number; maxRssKb: number } {
  const time = (s: number): string => new Date(s * 1000).toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z";
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(`R\t310101000000Z\t${time(REVOKED_FROM + i)},${reasonNames[reasons[i % 4]!]}\t${syntheticSerial("11", i).toUpperCase()}\tunknown\t/CN=revoked-${i}`);
  }
  return opensslGenCrl(dir, lines);
}

/** Runs this file as a child (`--child <mode> …`) and parses the JSON line it prints. */
function child(args: string[], env: Record<string, string> = {}): Promise<ChildFigures> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", here, "--child", ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (c: Buffer) => (out += c.toString()));
    p.on("error", reject);
    p.on("close", (code) => {
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0) return reject(new Error(`crl bench child ${args[0]} exited with ${code}: ${out}`));
      try {
        resolvePromise(JSON.parse(line) as ChildFigures);
      } catch {
        reject(new Error(`crl bench child printed no figures: ${out}`));
      }
    });
  });
}

const peakRssMb = (): number => process.resourceUsage().maxRSS / 1024;

/** Peak RSS growth over a phase: the process high-water mark when the phase raised it, else the sampled peak. */
class RssWatch {
  private readonly base = process.memoryUsage.rss();
  private readonly maxBefore = process.resourceUsage().maxRSS * 1024;
  private peak = this.base;
  private readonly timer = setInterval(() => this.sample(), 10);
  sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }
  stopMb(): number {
    clearInterval(this.timer);
    this.sample();
    const maxAfter = process.resourceUsage().maxRSS * 1024;
    const peak = maxAfter > this.maxBefore ? Math.max(maxAfter, this.peak) : this.peak;
    return (peak - this.base) / (1024 * 1024);
  }
}

/** The child side: `memory <n>` or `postgres <n> <partitions> <entriesEach>`. */
async function runChild([mode, nText, partsText, eachText]: string[]): Promise<ChildFigures> {
  const n = Number(nText);
  const token = createTestToken("bench-crl");
  const hsm = await Pkcs11Hsm.open({ modulePath: token.modulePath, tokenLabel: token.tokenLabel, pin: token.pin, poolSize: 2 });
  try {
    const spec = { type: "rsa", bits: 2048 } as const;
    const signer = await hsm.signer((await hsm.generateKey("bench-crl-ca", spec)).uri, "sha256WithRSAEncryption");
    const caDer = await buildCaCertificate({ kind: "sign", generation: 1, profile: { ...defaultCaProfiles.sign, keySpec: spec, signatureAlgorithm: signer.algorithm }, signer, serial: "1101", notBefore: new Date("2026-01-05T00:00:00Z") });
    if (mode === "memory") return await memoryRun(n, signer, caDer);
    return await postgresRun(n, Number(partsText), Number(eachText), signer, caDer);
  } finally {
    await hsm.close();
    deleteTestToken(token);
  }
}

async function memoryRun(n: number, signer: Awaited<ReturnType<Pkcs11Hsm["signer"]>>, caDer: Uint8Array): Promise<ChildFigures> {
  const issuer = parseIssuerCertificate(caDer);
  async function* pages(): AsyncGenerator<RevokedEntry[]> {
    for (let i = 0; i < n; i += 10_000) {
      const page: RevokedEntry[] = [];
      for (let j = i; j < Math.min(n, i + 10_000); j++) page.push({ serial: syntheticSerial("11", j), revokedAt: REVOKED_FROM + j, reasonCode: reasons[j % 4]!, invalidityDate: null });
      watch.sample(); // the build is synchronous between pages: the timer cannot sample
      yield page;
    }
  }
  const watch = new RssWatch();
  const started = performance.now();
  const built = await buildCrl(
    { issuer: issuer.subject, authorityKeyId: issuer.keyIdentifier, thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 86_400_000), crlNumber: 1, distributionPoint: "http://127.0.0.1:8080/crl/sign-g1/0.crl", freshestCrl: "http://127.0.0.1:8080/crl/sign-g1/0-delta.crl" },
    signer,
    pages(),
    { issuerPublicKey: issuer.subjectPublicKey },
  );
  const ms = performance.now() - started;
  return { ms, rssDeltaMb: watch.stopMb(), peakRssMb: peakRssMb(), size: built.der.length, entries: built.entries };
}

async function postgresRun(n: number, parts: number, each: number, signer: Awaited<ReturnType<Pkcs11Hsm["signer"]>>, caDer: Uint8Array): Promise<ChildFigures> {
  const t = await openTestDatabase("postgres");
  try {
    const gen = (id: "sign-g1" | "sign-g2", generation: number, partitionCount: number): CaGeneration => ({
      id, kind: "sign", generation, keyAlgorithm: "RSA-2048", signatureAlgorithm: signer.algorithm, keyUri: "pkcs11:bench", certificate: caDer,
      serialPrefix: 0x10 + generation, partitionCount, status: "active", ocspResponderCertificate: null, ocspResponderKeyUri: null, createdAt: new Date(),
    });
    const generations = [gen("sign-g1", 1, 1), gen("sign-g2", 2, parts)];
    for (const g of generations) await new KnexCaGenerationStore(t.db).insert(g);
    // Rows made by the server (no client round trips); changed a day ago so each delta stays small.
    const insert = (serial: string, caId: string, partition: string, count: number): Promise<unknown> =>
      t.db.knex.raw(
        `insert into certificates (serial, ca_id, kind, status, not_before, not_after, partition, public_key_sha256, subject_id, recorded,
           revoked_at, revocation_reason, created_at, updated_at)
         select ${serial}, ?, 'sign', 'revoked', timestamptz '2026-01-01 00:00Z', timestamptz '2031-01-01 00:00Z', ${partition}, md5(g::text), 'bench', '{}'::jsonb,
           to_timestamp(? + g), (array['keyCompromise','affiliationChanged','superseded','cessationOfOperation'])[g % 4 + 1], now() - interval '1 day', now() - interval '1 day'
         from generate_series(0, ?) as g`,
        [caId, REVOKED_FROM, count - 1],
      );
    await insert("'11' || substr(md5(g::text), 1, 30)", "sign-g1", "0", n);
    await insert("'12' || substr(md5('s' || g::text), 1, 30)", "sign-g2", `g % ${parts}`, parts * each);
    await t.db.knex.raw("analyze certificates");
    const store = new KnexCrlStore(t.db);
    const crl = createCrlService({
      store, outbox: new KnexOutboxStore(t.db), transactions: t.db, generations, signers: new Map([["sign-g1", signer], ["sign-g2", signer]]),
      crlBaseUrl: "http://127.0.0.1:8080", clock: systemClock, settings: parseCrlSettings({ parallelism: 2 }),
    });
    await store.ensurePartitions("sign-g1", 1);
    const lease = (await store.tryLease({ caId: "sign-g1", partition: 0 }, "bench", 600))!;
    const watch = new RssWatch();
    const started = performance.now();
    const issued = await crl.issuer.issue(crl.authorities[0]!, lease, { full: true, delta: true });
    const ms = performance.now() - started;
    const rssDeltaMb = watch.stopMb();
    await store.release(lease);
    if (issued.full?.entries !== n) throw new Error(`expected ${n} entries, got ${issued.full?.entries}`);
    const sampleStarted = performance.now();
    const report = await crl.scheduler.runNow("sign-g2");
    const sampleMs = performance.now() - sampleStarted;
    if (report.partitions.some((p) => p.outcome !== "issued")) throw new Error("a sample partition was not issued");
    return { ms, rssDeltaMb, peakRssMb: peakRssMb(), size: issued.full.size, entries: n, sampleMs, sampleEntries: parts * each };
  } finally {
    await t.close();
  }
}

if (process.argv[1] === here) {
  const i = process.argv.indexOf("--child");
  if (i >= 0) {
    console.log(JSON.stringify(await runChild(process.argv.slice(i + 1))));
    process.exit(0);
  }
  const entries = process.argv[2] ? Number(process.argv[2]) : undefined;
  console.log(formatBenchTable(await benchCrl(entries ? { entries } : {})));
}
