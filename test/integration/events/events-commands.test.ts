import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Metrics } from "../../../api/metrics.js";
import { buildResidentEvents, type ResidentEvents } from "../../../api/wiring/resident-events.js";
import { FixedClock } from "../../../ca/ports.js";
import { KnexAuditStore } from "../../../db/audit-store.js";
import { KnexCertificateStore } from "../../../db/certificate-store.js";
import { KnexOutboxStore } from "../../../db/outbox-store.js";
import { eventsCommand } from "../../../cli/events-commands.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase } from "../../support/database.js";
import { changesFor, event, residentCode, T0, wire } from "../../support/resident-event-fixtures.js";
import { seedCaGenerations, seedResidents } from "../../support/resident-event-seed.js";
import { repoRoot } from "../../support/service-harness.js";

/** `npm run cli -- events …` against PostgreSQL, through the same wiring as the service. */
describe("cli: events import|status|rejected|replay|halt|resume|purge-history", function () {
  this.timeout(60_000);
  const varDir = join(repoRoot, "var/test/events-cli", randomBytes(4).toString("hex"));
  let t: TestDatabase;
  let events: ResidentEvents;
  let lines: string[] = [];
  const run = (...args: string[]): Promise<number> => {
    lines = [];
    return eventsCommand({ events, varDir, progress: false, print: (l) => void lines.push(l) }, args);
  };

  before(async function () {
    requirePostgresUrl(this);
    t = await openTestDatabase("postgres");
    await seedCaGenerations(t.db);
    await seedResidents(t.db, 1, 10);
    events = buildResidentEvents({ db: t.db, clock: new FixedClock(T0), metrics: new Metrics({ defaultMetrics: false }), stores: { certificates: new KnexCertificateStore(t.db), audit: new KnexAuditStore(t.db), outbox: new KnexOutboxStore(t.db) } });
    await mkdir(varDir, { recursive: true });
  });
  after(async function () {
    await t?.close();
    await rm(varDir, { recursive: true, force: true });
  });

  it("imports a file with a summary, lists the rejected events and replays one after the fix", async function () {
    const file = join(varDir, "feed.jsonl");
    const body = [
      wire(event("ADDRESS_CHANGED", changesFor.ADDRESS_CHANGED, { residentCode: residentCode(1) })),
      wire(event("DECEASED", {}, { eventId: "late-resident", residentCode: residentCode(50) })),
      "{oops",
    ].map((x) => (typeof x === "string" ? x : JSON.stringify(x)));
    await writeFile(file, `${body.join("\r\n")}\r\n\r\n`);
    assert.equal(await run("import", file), 0);
    assert.match(lines[0]!, /^imported .*feed\.jsonl: 4 lines$/);
    assert.equal(lines[1], "  applied 1, duplicate 0, rejected 2, deferred 0");

    assert.equal(await run("rejected"), 0);
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /\tlate-resident\tDECEASED\tattempts 1\tunknown-resident/);
    assert.match(lines[1]!, /\tfile\t-\t-\tattempts 1\tmalformed-json/);
    const seq = lines[0]!.split("\t")[0]!;
    await seedResidents(t.db, 50, 1);
    assert.equal(await run("replay", seq), 0);
    assert.match(lines[0]!, new RegExp(`^${seq}\\tlate-resident\\tapplied\\trevoked `));
    await assert.rejects(run("replay", seq), /only rejected events are replayed/);
  });

  it("halt, status, resume", async function () {
    assert.equal(await run("halt"), 0);
    assert.match(lines[0]!, /safety valve halted/);
    await events.processor.process([{ raw: { json: wire(event("DECEASED", {}, { residentCode: residentCode(2) })) } }], "http");
    assert.equal(await run("status"), 0);
    assert.match(lines[0]!, /^safety valve: HALTED since .* \(operator\)$/);
    assert.match(lines.at(-1)!, /deferred 1$/);
    assert.equal(await run("resume"), 0);
    assert.deepEqual(lines, ["safety valve resumed", "  deferred events applied 1 (revoked 2), rejected 0, rejected by this resume 0"]);
  });

  it("purge-history dry run", async function () {
    assert.equal(await run("purge-history", "--dry-run"), 0);
    assert.match(lines[0]!, /^would erase 0 superseded resident-record version\(s\) superseded before 2021-11-24T01:00:00.000Z$/);
  });

  it("refuses bad usage with a clear message", async function () {
    await assert.rejects(run("import"), /usage: events import/);
    await assert.rejects(run("replay", "x"), /usage: events replay/);
    await assert.rejects(run("nonsense"), /usage: events import/);
  });
});
