/**
 * Summarises a V8 `.cpuprofile` (written by `node --cpu-prof`): self time grouped by where the code comes
 * from (a package under node_modules, a folder of this repository, node internals, idle, GC), and the
 * functions with the most self time. Self time of a native function (crypto, TLS, zlib) counts towards
 * the JavaScript caller that V8 saw.
 *
 * Run alone: `npx tsx bench/cpu-profile-summary.ts var/bench/profile/<file>.cpuprofile [--top 30] [--from ms] [--to ms]`.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

interface ProfileNode {
  parent?: number;
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Wall time covered by the profile, ms. */
  readonly totalMs: number;
  /** Self ms by origin, largest first. */
  readonly byOrigin: ReadonlyArray<{ origin: string; ms: number; share: number }>;
  /** Self ms by function, largest first. */
  readonly byFunction: ReadonlyArray<{ fn: string; origin: string; ms: number; share: number }>;
}

/** Where a frame's code lives: "pkg:asn1js", "repo:ca", "node:internal", "(idle)", "(gc)", … */
export function originOf(url: string, functionName: string): string {
  if (functionName === "(idle)" || functionName === "(program)" || functionName === "(garbage collector)") return functionName;
  if (url === "") return "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg?.[1]) return `pkg:${pkg[1]}`;
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0] === "internal" ? url.slice(5).split("/").slice(0, 2).join("/") : url.slice(5)}`;
  const repo = /\/work\/[^/]+\/([^/]+)\//.exec(url) ?? /file:\/\/.*?\/(api|ca|db|hsm|cli|bench|crl|ocsp|events)\//.exec(url);
  if (repo?.[1]) return `repo:${repo[1]}`;
  return url;
}

/**
 * Reads and summarises a profile; only samples between `fromMs` and `toMs` after the profile started
 * count (e.g. only the measured phase, not start-up and the ceremony).
 */
export function summarizeCpuProfile(file: string, options: { fromMs?: number; toMs?: number } = {}): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let t = 0;
  const fromUs = (options.fromMs ?? 0) * 1000;
  const toUs = (options.toMs ?? Infinity) * 1000;
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (t < fromUs || t > toUs) continue;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    totalUs += dt;
  }
  const origins = new Map<string, number>();
  const fns = new Map<string, { origin: string; us: number }>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const origin = originOf(url, functionName);
    origins.set(origin, (origins.get(origin) ?? 0) + us);
    const key = `${functionName || "(anonymous)"} ${url.replace(/^.*\/(node_modules\/)?/, "")}:${lineNumber + 1}`;
    const f = fns.get(key) ?? { origin, us: 0 };
    f.us += us;
    fns.set(key, f);
  }
  const share = (us: number): number => (totalUs > 0 ? us / totalUs : 0);
  return {
    totalMs: totalUs / 1000,
    byOrigin: [...origins].map(([origin, us]) => ({ origin, ms: us / 1000, share: share(us) })).sort((a, b) => b.ms - a.ms),
    byFunction: [...fns].map(([fn, f]) => ({ fn, origin: f.origin, ms: f.us / 1000, share: share(f.us) })).sort((a, b) => b.ms - a.ms),
  };
}

/** A named activity, recognised by the URL of a frame on the stack (nearest frame to the leaf wins). */
export interface ActivityRule {
  readonly name: string;
  readonly url: RegExp;
}

/** The activities of the CA service's issuance path (the first rule that matches a frame wins). */
export const issuanceActivities: readonly ActivityRule[] = [
  { name: "database client (knex, pg, socket writes to PostgreSQL)", url: /node_modules\/(knex|pg|pg-protocol|pg-pool|pg-types|tarn|lodash)\/|\/db\/[^/]+\.ts/ },
  { name: "HSM client (pkcs11js, graphene: C_SignInit on the event loop)", url: /node_modules\/(pkcs11js|graphene-pk11)\/|\/hsm\/[^/]+\.ts/ },
  { name: "CSR parse + proof-of-possession verify", url: /\/ca\/(csr|subject-key-policy)\.ts/ },
  { name: "certificate: TBS encode, assemble, self-check", url: /\/ca\/(end-entity[^/]*|x509\/[^/]+)\.ts/ },
  { name: "issuance logic, request and resident checks (ca/)", url: /\/ca\/[^/]+\.ts/ },
  // Not node:net: PostgreSQL's socket writes go through it too (they belong to the pg frames above them).
  { name: "HTTP, TLS, koa, middleware (api/)", url: /node_modules\/(koa|@koa|koa-compose|co-body|raw-body|http-errors|statuses)\/|^node:(_http|_tls|https|http|tls)|\/api\/[^/]+\.ts/ },
  { name: "logging, metrics", url: /node_modules\/(pino|prom-client)[^/]*\// },
];

/**
 * Self time attributed to activities: each sample goes to the activity of the frame nearest to the
 * leaf that matches a rule (so asn1js code called from csr.ts counts as CSR parsing); "(idle)",
 * "(garbage collector)" and unmatched stacks get their own rows.
 */
export function summarizeActivities(file: string, rules: readonly ActivityRule[], options: { fromMs?: number; toMs?: number } = {}): Array<{ activity: string; ms: number; share: number }> {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes) for (const c of n.children ?? []) {
    const child = byId.get(c);
    if (child) child.parent = n.id;
  }
  const memo = new Map<number, string>();
  const activityOf = (id: number): string => {
    const known = memo.get(id);
    if (known) return known;
    const node = byId.get(id);
    let result = "other (JSON, promises, node internals)";
    if (node) {
      const { functionName, url } = node.callFrame;
      if (functionName === "(idle)" || functionName === "(garbage collector)" || functionName === "(program)") result = functionName;
      else {
        const rule = rules.find((r) => r.url.test(url));
        if (rule) result = rule.name;
        else if (node.parent !== undefined) result = activityOf(node.parent);
      }
    }
    memo.set(id, result);
    return result;
  };
  const fromUs = (options.fromMs ?? 0) * 1000;
  const toUs = (options.toMs ?? Infinity) * 1000;
  const totals = new Map<string, number>();
  let t = 0;
  let all = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (t < fromUs || t > toUs) continue;
    const a = activityOf(profile.samples[i]!);
    totals.set(a, (totals.get(a) ?? 0) + dt);
    all += dt;
  }
  return [...totals].map(([activity, us]) => ({ activity, ms: us / 1000, share: all > 0 ? us / all : 0 })).sort((a, b) => b.ms - a.ms);
}

/** Plain-text report: origins, then the top functions. */
export function formatProfileSummary(s: ProfileSummary, top = 25): string {
  const pct = (x: number): string => `${(100 * x).toFixed(1).padStart(5)}%`;
  return [
    `profile: ${(s.totalMs / 1000).toFixed(1)} s of samples`,
    "self time by origin:",
    ...s.byOrigin.slice(0, 20).map((o) => `  ${pct(o.share)}  ${o.ms.toFixed(0).padStart(7)} ms  ${o.origin}`),
    `top ${top} functions by self time:`,
    ...s.byFunction.slice(0, top).map((f) => `  ${pct(f.share)}  ${f.ms.toFixed(0).padStart(7)} ms  ${f.fn}`),
  ].join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: "string" }, from: { type: "string" }, to: { type: "string" } } });
  if (!positionals[0]) throw new Error("usage: npx tsx bench/cpu-profile-summary.ts <file.cpuprofile> [--top N] [--from ms] [--to ms]");
  const range = { fromMs: Number(values.from ?? 0), toMs: values.to ? Number(values.to) : Infinity };
  console.log(formatProfileSummary(summarizeCpuProfile(positionals[0], range), Number(values.top ?? 25)));
  console.log("self time by activity (issuance path):");
  for (const a of summarizeActivities(positionals[0], issuanceActivities, range)) console.log(`  ${(100 * a.share).toFixed(1).padStart(5)}%  ${a.ms.toFixed(0).padStart(7)} ms  ${a.activity}`);
}
