import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FixedClock } from "../../../ca/ports.js";
import type { ResidentEventType } from "../../../ca/residents/resident-event.js";
import { importEventFile, type ImportSummary } from "../../../events/file-import.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase } from "../../support/database.js";
import { changesFor, event, residentCode, T0, wire } from "../../support/resident-event-fixtures.js";
import { eventProcessor, seedCaGenerations, seedResidents } from "../../support/resident-event-seed.js";
import { repoRoot } from "../../support/service-harness.js";

const RESIDENTS = 2500;
const LINES = 10_000;
const types: ResidentEventType[] = ["ADDRESS_CHANGED", "NAME_CHANGED", "MINOR_CORRECTION", "GENDER_CHANGED", "ALIAS_CHANGED", "DECEASED"];

/** 10,000 lines: every type, out-of-order dates, exact resends, malformed lines, unknown residents, blanks. */
function eventLines(): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < LINES; i++) {
    if (i % 499 === 7) out.push(`{"eventId": "broken-${i}`);
    else if (i % 997 === 3) out.push("");
    else if (i % 701 === 5) out.push(JSON.stringify(wire(event("DECEASED", {}, { eventId: `unknown-${i}`, residentCode: residentCode(900_000 + i) }))));
    else if (i % 613 === 11 && out.length > 0) out.push(out[out.length - 1]!);
    else {
      const type = types[i % types.length]!;
      const day = 1 + ((i * 7) % 28);
      const e = event(type, changesFor[type], { eventId: `evt-${i}`, residentCode: residentCode(1 + (i % RESIDENTS)), effectiveDate: `2026-11-${String(day).padStart(2, "0")}` });
      out.push(JSON.stringify(wire(e)));
    }
  }
  return out;
}

/** Everything the import can change, without arrival-dependent columns (seq, audit batching). */
async function stateOf(t: TestDatabase): Promise<string> {
  const k = t.db.knex;
  const certificates = await k("certificates").select("serial", "status", "revocation_reason", "revoked_at", "invalidity_date").orderBy("serial");
  const residents = await k("residents").select("resident_code", "name", "address", "gender", "date_of_birth", "alias", "status", "field_versions").orderBy("resident_code");
  const events = await k("resident_events").select("event_key", "outcome", "reason", "revoked", "resident_code").orderBy("event_key");
  const history = await k("resident_history").select("resident_code", "name", "address", "gender", "superseded_by").orderBy(["resident_code", "superseded_by"]);
  const outbox = (await k("outbox").select("topic", "payload")).map((r: { topic: string; payload: unknown }) => `${r.topic} ${JSON.stringify(r.payload)}`).sort();
  return JSON.stringify({ certificates, residents, events, history, outbox });
}

describe("events import FILE.jsonl into PostgreSQL", function () {
  this.timeout(120_000);
  const dir = join(repoRoot, "var/test/events-import", randomBytes(4).toString("hex"));
  const file = join(dir, "events.jsonl");
  const limits = { maxRevocationsPerEvent: 4, maxRevocationsInWindow: 1_000_000, windowMs: 600_000 };
  let a: TestDatabase;
  let b: TestDatabase;

  let events = 0;

  before(async function () {
    requirePostgresUrl(this);
    await mkdir(dir, { recursive: true });
    const lines = eventLines();
    events = lines.filter((l) => l.length > 0).length;
    await writeFile(file, `${lines.join("\n")}\n`);
    [a, b] = await Promise.all([openTestDatabase("postgres"), openTestDatabase("postgres")]);
    for (const t of [a, b]) {
      await seedCaGenerations(t.db);
      await seedResidents(t.db, 1, RESIDENTS);
    }
  });
  after(async function () {
    await a?.close();
    await b?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("a 10,000-event import interrupted twice and resumed ends in the same state as an uninterrupted one", async function () {
    const clock = new FixedClock(T0);
    const straight = await importEventFile(eventProcessor(a.db, clock, { limits }), { file, checkpointDir: join(dir, "cp-a") });
    assert.equal(straight.complete, true);
    assert.equal(straight.lines, LINES);
    assert.ok(straight.applied > 5000 && straight.rejected > 20 && straight.duplicate > 10, JSON.stringify(straight));
    assert.equal(straight.applied + straight.rejected + straight.duplicate + straight.deferred, events, "one outcome per non-blank line");

    const processor = eventProcessor(b.db, clock, { limits });
    const checkpointDir = join(dir, "cp-b");
    // 1. a crash after batch 5 committed, before its checkpoint was written
    await assert.rejects(
      importEventFile(processor, {
        file,
        checkpointDir,
        batchSize: 500,
        afterBatchCommitted: (n) => {
          if (n === 5) throw new Error("simulated crash");
        },
      }),
      /simulated crash/,
    );
    assert.equal((await readdir(checkpointDir)).length, 1, "a checkpoint is left behind");
    // 2. resumed, then stopped by a signal (Ctrl-C) after a few batches
    const stop = new AbortController();
    const progress: number[] = [];
    const partial = await importEventFile(processor, {
      file,
      checkpointDir,
      signal: stop.signal,
      onProgress: (p) => {
        progress.push(p.lines);
        if (progress.length === 4) stop.abort();
      },
    });
    assert.equal(partial.complete, false);
    // 4 batches of 500 events (blank lines do not count) were checkpointed before the crash
    assert.ok(partial.resumedAfterLine >= 2000 && partial.resumedAfterLine < 2010, String(partial.resumedAfterLine));
    // 3. resumed to the end
    const rest: ImportSummary = await importEventFile(processor, { file, checkpointDir });
    assert.equal(rest.complete, true);
    assert.ok(rest.resumedAfterLine > 2000);
    assert.deepEqual(await readdir(checkpointDir), [], "a finished import removes its checkpoint");
    // counts add up over the three runs; the batch sent twice (crash before its checkpoint) was
    // answered duplicate the second time
    assert.equal(rest.applied + rest.rejected + rest.duplicate, events);
    assert.ok(rest.duplicate >= straight.duplicate + 400, JSON.stringify(rest));

    assert.equal(await stateOf(b), await stateOf(a));
  });

  it("an import of the same file again changes nothing", async function () {
    const before = await stateOf(a);
    const again = await importEventFile(eventProcessor(a.db, new FixedClock(T0), { limits }), { file, checkpointDir: join(dir, "cp-a") });
    assert.equal(again.applied, 0);
    assert.equal(again.rejected, 0);
    assert.equal(again.duplicate, events);
    assert.equal(await stateOf(a), before);
  });
});
