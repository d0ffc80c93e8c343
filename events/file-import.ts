import { createReadStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import type { EventOutcome } from "../ca/residents/resident-event-ports.js";
import { sha256Hex } from "../ca/sha256.js";
import type { EventInput, ResidentEventProcessor } from "./resident-event-processor.js";

/**
 * `events import FILE.jsonl` (docs/api.md §5, §8): one event per line, applied in batches (one
 * transaction each), resumable after an interruption.
 *
 * After each committed batch a checkpoint (byte offset, line number, counts) is written atomically
 * under the checkpoint directory (./var/events-import/). A rerun resumes from the checkpoint; the
 * batch between the last checkpoint and a crash is sent again and answered `duplicate`, so an
 * interrupted and resumed import ends in the same state as an uninterrupted one. The checkpoint names
 * the file by path, size at the time and a hash of its head: a different file under the same path
 * starts from the beginning (which is safe too, just slower). A finished import removes it.
 */

export interface ImportCounts {
  applied: number;
  duplicate: number;
  rejected: number;
  deferred: number;
}

export interface ImportProgress {
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly lines: number;
  readonly counts: Readonly<ImportCounts>;
}

export interface ImportOptions {
  readonly file: string;
  /** Where checkpoints live (keep it under ./var). */
  readonly checkpointDir: string;
  /** Lines per batch (default 500). */
  readonly batchSize?: number;
  /** Ignore a checkpoint and start at the first line. */
  readonly restart?: boolean;
  /** Stops after the batch in progress (checkpoint written): a later run resumes. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: ImportProgress) => void;
  /** Test seam: after a batch is committed, before its checkpoint (a throw simulates a crash there). */
  readonly afterBatchCommitted?: (batchNumber: number) => void | Promise<void>;
}

export interface ImportSummary extends ImportCounts {
  readonly file: string;
  /** Lines read, blank lines included, over all runs of this import. */
  readonly lines: number;
  /** The line this run started after (0: from the beginning). */
  readonly resumedAfterLine: number;
  /** False when stopped by the signal before the end. */
  readonly complete: boolean;
}

interface Checkpoint {
  readonly version: 1;
  readonly file: string;
  readonly headSha256: string;
  readonly offset: number;
  readonly line: number;
  readonly counts: ImportCounts;
}

const HEAD_BYTES = 64 * 1024;

export async function importEventFile(processor: Pick<ResidentEventProcessor, "process">, options: ImportOptions): Promise<ImportSummary> {
  const file = resolve(options.file);
  const batchSize = options.batchSize ?? 500;
  const size = (await stat(file)).size;
  const head = await headSha256(file);
  await mkdir(options.checkpointDir, { recursive: true });
  const checkpointFile = join(options.checkpointDir, `${sha256Hex(file).slice(0, 32)}.json`);
  let checkpoint = options.restart ? undefined : await readCheckpoint(checkpointFile);
  if (checkpoint && (checkpoint.file !== file || checkpoint.headSha256 !== head || checkpoint.offset > size)) checkpoint = undefined;

  const counts: ImportCounts = checkpoint ? { ...checkpoint.counts } : { applied: 0, duplicate: 0, rejected: 0, deferred: 0 };
  let offset = checkpoint?.offset ?? 0;
  let line = checkpoint?.line ?? 0;
  const resumedAfterLine = line;
  const name = basename(file);
  let batchNumber = 0;

  let pending: EventInput[] = [];
  let pendingEnd = { offset, line };
  const flush = async (): Promise<void> => {
    if (pending.length > 0) {
      const results = await processor.process(pending, "file");
      for (const r of results) counts[outcomeKey(r.outcome)]++;
      await options.afterBatchCommitted?.(++batchNumber);
    }
    pending = [];
    offset = pendingEnd.offset;
    line = pendingEnd.line;
    await writeCheckpoint(checkpointFile, { version: 1, file, headSha256: head, offset, line, counts });
    options.onProgress?.({ bytesDone: offset, bytesTotal: size, lines: line, counts });
  };

  let complete = true;
  let lineNo = line;
  let position = offset;
  for await (const bytes of lines(file, offset)) {
    position += bytes.length + 1;
    lineNo++;
    const text = trimLine(bytes);
    if (text.length > 0) pending.push({ raw: { bytes: text }, source: `file:${name}:${lineNo}` });
    pendingEnd = { offset: Math.min(position, size), line: lineNo };
    if (pending.length >= batchSize) {
      await flush();
      if (options.signal?.aborted) {
        complete = false;
        break;
      }
    }
  }
  if (complete) {
    await flush();
    await rm(checkpointFile, { force: true });
  }
  return { file, ...counts, lines: line, resumedAfterLine, complete };
}

function outcomeKey(outcome: EventOutcome): keyof ImportCounts {
  return outcome;
}

/** The lines (without "\n") of `file` from byte `start`, as bytes: offsets stay exact for the checkpoint. */
async function* lines(file: string, start: number): AsyncGenerator<Uint8Array> {
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(file, { start, highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    let data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    let from = 0;
    for (let nl = data.indexOf(0x0a, from); nl !== -1; nl = data.indexOf(0x0a, from)) {
      yield data.subarray(from, nl);
      from = nl + 1;
    }
    carry = Buffer.from(data.subarray(from));
    data = Buffer.alloc(0);
  }
  if (carry.length > 0) yield carry;
}

/** Drops a trailing "\r" and surrounding blanks (CRLF files, blank lines). */
function trimLine(bytes: Uint8Array): Uint8Array {
  let a = 0;
  let b = bytes.length;
  while (a < b && (bytes[a] === 0x20 || bytes[a] === 0x09 || bytes[a] === 0x0d)) a++;
  while (b > a && (bytes[b - 1] === 0x20 || bytes[b - 1] === 0x09 || bytes[b - 1] === 0x0d)) b--;
  return bytes.subarray(a, b);
}

async function headSha256(file: string): Promise<string> {
  const fh = await open(file, "r");
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    return sha256Hex(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

async function readCheckpoint(path: string): Promise<Checkpoint | undefined> {
  try {
    const c = JSON.parse(await readFile(path, "utf8")) as Checkpoint;
    return c.version === 1 && Number.isSafeInteger(c.offset) && Number.isSafeInteger(c.line) ? c : undefined;
  } catch {
    return undefined;
  }
}

/** Write-then-rename: a crash leaves the old checkpoint or the new one, never half of one. */
async function writeCheckpoint(path: string, c: Checkpoint): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(c));
  await rename(tmp, path);
}
