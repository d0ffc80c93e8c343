import { join } from "node:path";
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import type { ResidentEvents } from "../api/main.js";
import { CaError } from "../ca/errors.js";
import { importEventFile, type ImportSummary } from "../events/file-import.js";

/**
 * `npm run cli -- events …` (docs/api.md §8): import a JSONL file, list and replay rejected events, halt
 * and resume the safety valve, purge superseded resident-record versions. The CLI runs on the CA host
 * under its own access control and acts as "cli" in the audit log (like the other commands).
 */

export const eventsUsage =
  "events import FILE.jsonl [--batch N] [--restart] | events status | events rejected [--deferred] [--after SEQ] [--limit N] | " +
  "events replay SEQ… [--allow-over-cap] | events halt | events resume [--reject-deferred] | events purge-history [--dry-run]";

type Print = (line: string) => void;

export interface EventsCommandContext {
  readonly events: Pick<ResidentEvents, "processor" | "purgeHistory">;
  /** The service's var directory: checkpoints go to <varDir>/events-import/. */
  readonly varDir: string;
  readonly print?: Print;
  /** Progress output (default: a cli-progress bar on stderr). */
  readonly progress?: boolean;
  /** Aborted on Ctrl-C by cli/main.ts: the import stops after its batch and can be resumed. */
  readonly signal?: AbortSignal;
}

export async function eventsCommand(ctx: EventsCommandContext, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const print = ctx.print ?? console.log;
  switch (sub) {
    case "import":
      return eventsImport(ctx, rest, print);
    case "status":
      return eventsStatus(ctx, print);
    case "rejected":
      return eventsRejected(ctx, rest, print);
    case "replay":
      return eventsReplay(ctx, rest, print);
    case "halt": {
      const changed = await ctx.events.processor.halt("cli");
      print(changed ? "safety valve halted: events are stored, not applied, until `events resume`" : "safety valve was already halted");
      return 0;
    }
    case "resume":
      return eventsResume(ctx, rest, print);
    case "purge-history":
      return eventsPurge(ctx, rest, print);
    default:
      throw new CaError("invalid-input", `usage: ${eventsUsage}`);
  }
}

async function eventsImport(ctx: EventsCommandContext, args: string[], print: Print): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { batch: { type: "string" }, restart: { type: "boolean" } } });
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0) throw new CaError("invalid-input", "usage: events import FILE.jsonl [--batch N] [--restart]");
  const batchSize = values.batch === undefined ? 500 : Number(values.batch);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 5000) throw new CaError("invalid-input", "--batch must be 1–5000", { field: "batch" });
  const bar = ctx.progress === false ? undefined : new cliProgress.SingleBar({ format: "events [{bar}] {percentage}% | line {lines} | applied {applied} duplicate {duplicate} rejected {rejected} deferred {deferred} | ETA {eta_formatted}", hideCursor: true }, cliProgress.Presets.shades_classic);
  let summary: ImportSummary;
  try {
    summary = await importEventFile(ctx.events.processor, {
      file,
      checkpointDir: join(ctx.varDir, "events-import"),
      batchSize,
      restart: values.restart === true,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      onProgress: (p) => {
        if (!bar) return;
        if (bar.getTotal() !== p.bytesTotal) bar.start(p.bytesTotal, p.bytesDone, { lines: p.lines, ...p.counts });
        bar.update(p.bytesDone, { lines: p.lines, ...p.counts });
      },
    });
  } finally {
    bar?.stop();
  }
  const resumed = summary.resumedAfterLine > 0 ? ` (resumed after line ${summary.resumedAfterLine})` : "";
  print(`${summary.complete ? "imported" : "interrupted"} ${summary.file}: ${summary.lines} lines${resumed}`);
  print(`  applied ${summary.applied}, duplicate ${summary.duplicate}, rejected ${summary.rejected}, deferred ${summary.deferred}`);
  if (summary.rejected > 0) print("  rejected events are kept: `npm run cli -- events rejected`, then `events replay SEQ` after a fix");
  if (summary.deferred > 0) print("  the safety valve halted: `npm run cli -- events status`, then `events resume` (a ca-operator's decision)");
  if (!summary.complete) print("  run the same command again to resume");
  return summary.complete ? 0 : 3;
}

async function eventsStatus(ctx: EventsCommandContext, print: Print): Promise<number> {
  const s = await ctx.events.processor.status();
  print(`safety valve: ${s.valve.halted ? `HALTED since ${s.valve.haltedAt?.toISOString()} (${s.valve.haltReason})` : "running"}`);
  if (s.valve.resumedAt) print(`  last resumed ${s.valve.resumedAt.toISOString()} by ${s.valve.resumedBy}`);
  print(`  limits: at most ${s.limits.maxRevocationsPerEvent} revocations per event; breaker at more than ${s.limits.maxRevocationsInWindow} in ${s.limits.windowMs / 60_000} min`);
  print(`events: applied ${s.events.applied}, rejected ${s.events.rejected}, deferred ${s.events.deferred}`);
  return 0;
}

async function eventsRejected(ctx: EventsCommandContext, args: string[], print: Print): Promise<number> {
  const { values } = parseArgs({ args, options: { deferred: { type: "boolean" }, after: { type: "string" }, limit: { type: "string" } } });
  const rows = await ctx.events.processor.list(values.deferred ? "deferred" : "rejected", Number(values.after ?? 0), Number(values.limit ?? 100));
  for (const r of rows) {
    print(`${r.seq}\t${r.receivedAt.toISOString()}\t${r.transport}\t${r.eventId ?? "-"}\t${r.type ?? "-"}\tattempts ${r.attempts}\t${r.reason ?? ""}`);
  }
  print(`${rows.length} ${values.deferred ? "deferred" : "rejected"} event(s)${rows.length > 0 ? `; continue with --after ${rows[rows.length - 1]!.seq}` : ""}`);
  return 0;
}

async function eventsReplay(ctx: EventsCommandContext, args: string[], print: Print): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { "allow-over-cap": { type: "boolean" } } });
  if (positionals.length === 0 || positionals.some((p) => !/^[1-9][0-9]*$/.test(p))) throw new CaError("invalid-input", "usage: events replay SEQ… [--allow-over-cap]");
  let failed = 0;
  for (const seq of positionals) {
    const r = await ctx.events.processor.replay(Number(seq), "cli", { allowOverCap: values["allow-over-cap"] === true });
    if (r.outcome !== "applied") failed++;
    print(`${seq}\t${r.eventId ?? "-"}\t${r.outcome}${r.revoked.length > 0 ? `\trevoked ${r.revoked.join(",")}` : ""}${r.reason ? `\t${r.reason}` : ""}`);
  }
  return failed === 0 ? 0 : 1;
}

async function eventsResume(ctx: EventsCommandContext, args: string[], print: Print): Promise<number> {
  const { values } = parseArgs({ args, options: { "reject-deferred": { type: "boolean" } } });
  const r = await ctx.events.processor.resume("cli", { deferred: values["reject-deferred"] ? "reject" : "apply" });
  print(r.resumed ? "safety valve resumed" : "safety valve was running");
  print(`  deferred events applied ${r.applied} (revoked ${r.revoked}), rejected ${r.rejected}, rejected by this resume ${r.deferredRejected}`);
  return 0;
}

async function eventsPurge(ctx: EventsCommandContext, args: string[], print: Print): Promise<number> {
  const { values } = parseArgs({ args, options: { "dry-run": { type: "boolean" } } });
  const r = await ctx.events.purgeHistory("cli", { dryRun: values["dry-run"] === true });
  print(`${r.dryRun ? "would erase" : "erased"} ${r.rows} superseded resident-record version(s) superseded before ${r.cutoff.toISOString()}`);
  return 0;
}
