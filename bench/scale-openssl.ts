/**
 * `openssl ocsp -index` over the seeded population, the baseline of the Zipf mix (issue 13 item 2); one size
 * of bench/scale.bench.ts, run after the service's OCSP runs (bench/scale-http.ts) with the service stopped.
 *
 * - index.txt of every certificate of the active generations (the ones the Zipf mix asks about), written by
 *   PostgreSQL (`psql -c "copy (…) to stdout"`, streamed to the file): R (revoked or held: revocation time
 *   and reason, a hold as openssl writes one, `holdInstruction,holdInstructionReject`; reasons openssl
 *   does not know as unspecified), E (valid, past notAfter: openssl answers no status for these), V;
 *   expiry as UTCTime, serial upper-case hex, "unknown", /CN=<serial>;
 * - openssl's responder as bench/ocsp.bench.ts runs it (bench/openssl-ocsp.ts): `-multi 2`, a software
 *   P-256 responder key whose certificate is issued by the real signing CA key (SoftHSM, the ceremony's),
 *   both CA certificates given with -CA, inside `unshare -n`;
 * - loaded by wrk over the SAME steady-state URL file as the service (scale-http.ts's fresh Zipf draw;
 *   openssl answers GET at "/<request>"), at 16, 32 and 2 connections, the best run kept — only the first (16)
 *   when the index took over 30 s to load (each run starts a fresh responder, which reloads it);
 * - figures: index write time and lines, openssl's index load time (spawn → first answer) and RSS,
 *   throughput and p99. If openssl does not answer within `loadTimeoutSeconds`, that is reported with the
 *   time and memory it had used (a finding, not a failure).
 */
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type pg from "pg";
import type { SignatureAlgorithmName } from "../ca/ports.js";
import type { CaId } from "../ca/types.js";
import { Pkcs11Hsm } from "../hsm/pkcs11-hsm.js";
import { runOpensslBaseline, unshareAvailable, writeOpensslResponderFiles, type OpensslLoad } from "./openssl-ocsp.js";

export interface OpensslAtSizeOptions {
  readonly client: pg.Client;
  readonly databaseUrl: string;
  /** The service's SoftHSM token (the CA keys of the ceremony). */
  readonly token: { readonly modulePath: string; readonly tokenLabel: string; readonly pin: string };
  /** Working directory (index, responder files, URL file). */
  readonly dir: string;
  /** The service's steady-state URL file ("/ocsp/<request>" per line). */
  readonly servicePathsFile: string;
  readonly seconds: number;
  /** Longest wait for openssl to load the index (default 600 s). */
  readonly loadTimeoutSeconds?: number;
  readonly log: (line: string) => void;
}

export interface OpensslAtSize {
  readonly indexLines: number;
  readonly indexSeconds: number;
  /** The best run (the first one when openssl never became ready). */
  readonly best: OpensslLoad & { readonly connections: number };
}

/** The index as openssl's `ca` writes it, one line per certificate of the generations (COPY's tab-separated columns). */
const INDEX_SQL = (caIds: readonly string[]): string => `copy (
  select case when status in ('revoked', 'hold') then 'R' when not_after < now() then 'E' else 'V' end,
    to_char(not_after at time zone 'UTC', 'YYMMDDHH24MISS') || 'Z',
    case when status in ('revoked', 'hold') then to_char(coalesce(revoked_at, updated_at) at time zone 'UTC', 'YYMMDDHH24MISS') || 'Z,' ||
      case when status = 'hold' then 'holdInstruction,holdInstructionReject'
           when revocation_reason in ('keyCompromise', 'CACompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation') then revocation_reason
           else 'unspecified' end
    else '' end,
    upper(serial), 'unknown', '/CN=' || serial
  from certificates where ca_id in (${caIds.map((id) => `'${id.replace(/'/g, "''")}'`).join(", ")})) to stdout`;

/** Streams the index from PostgreSQL into `file` with psql; resolves with the line count. */
function writeIndex(databaseUrl: string, caIds: readonly string[], file: string): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const out = createWriteStream(file, { mode: 0o600 });
    const p = spawn("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", databaseUrl, "-c", INDEX_SQL(caIds)], { stdio: ["ignore", "pipe", "pipe"] });
    let lines = 0;
    let err = "";
    p.stdout.on("data", (d: Buffer) => {
      for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++;
    });
    p.stdout.pipe(out);
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("error", reject);
    p.on("close", (code) => {
      out.end(() => (code === 0 ? resolvePromise(lines) : reject(new Error(`psql copy exited with ${code}: ${err.slice(-500)}`))));
    });
  });
}

/** Measures openssl over the population (see the file comment); undefined when `unshare -n` is not available. */
export async function measureOpensslAtSize(o: OpensslAtSizeOptions): Promise<OpensslAtSize | undefined> {
  if (!unshareAvailable()) {
    o.log("scale: openssl baseline SKIPPED: `unshare -n` is not available (needs root or user namespaces)");
    return undefined;
  }
  mkdirSync(o.dir, { recursive: true });
  const { rows } = await o.client.query<{ id: CaId; kind: string; certificate: Buffer; key_uri: string; signature_algorithm: SignatureAlgorithmName }>(
    "select id, kind, certificate, key_uri, signature_algorithm from ca_generations where status = 'active' order by kind",
  );
  const sign = rows.find((r) => r.kind === "sign");
  if (!sign || rows.length < 2) throw new Error("no active signing and authentication generations");
  const hsm = await Pkcs11Hsm.open({ ...o.token, poolSize: 1 });
  try {
    const caSigner = await hsm.signer(sign.key_uri, sign.signature_algorithm);
    await writeOpensslResponderFiles(o.dir, { caId: sign.id, caCertificate: new Uint8Array(sign.certificate), caSigner }, rows.map((r) => new Uint8Array(r.certificate)));
  } finally {
    await hsm.close();
  }
  const started = performance.now();
  const indexLines = await writeIndex(o.databaseUrl, rows.map((r) => r.id), join(o.dir, "index.txt"));
  const indexSeconds = (performance.now() - started) / 1000;
  o.log(`scale: openssl index.txt: ${indexLines.toLocaleString("en-US")} lines written from PostgreSQL in ${indexSeconds.toFixed(1)} s`);
  const pathsFile = join(o.dir, "openssl-paths.txt");
  writeFileSync(pathsFile, readFileSync(o.servicePathsFile, "utf8").split("\n").map((p) => p.replace(/^\/ocsp/, "")).join("\n"));
  let best: (OpensslLoad & { connections: number }) | undefined;
  try {
    for (const connections of [16, 32, 2]) {
      const r = await runOpensslBaseline({ dir: o.dir, pathsFile, seconds: o.seconds, connections, loadTimeoutSeconds: o.loadTimeoutSeconds ?? 600 });
      const mem = `RSS ${(r.parentRssKb / 1024).toFixed(0)} MiB (parent; ${(r.totalRssKb / 1024).toFixed(0)} MiB with its 2 children, shared pages counted in each)`;
      if (!r.ready) {
        o.log(`scale: openssl ocsp did NOT answer within ${r.loadSeconds.toFixed(0)} s of loading ${indexLines.toLocaleString("en-US")} index lines; ${mem}`);
        return { indexLines, indexSeconds, best: { ...r, connections } };
      }
      o.log(`scale: openssl ocsp -multi 2, ${connections} conns: index loaded in ${r.loadSeconds.toFixed(1)} s, ${mem}; ${Math.round(r.rate)}/s, p50 ${r.p50} ms, p99 ${r.p99} ms, errors ${r.errors}, non-OCSP ${r.mismatches}, ${r.cpuPerResponse.toFixed(0)} µs CPU per response`);
      if (!best || r.rate > best.rate) best = { ...r, connections };
      if (r.loadSeconds > 30) break;
    }
  } finally {
    rmSync(join(o.dir, "index.txt"), { force: true }); // ~70 bytes a certificate: 0.7 GB at 10 M
  }
  return { indexLines, indexSeconds, best: best! };
}
