import assert from "node:assert/strict";
import { FixedClock } from "../../../ca/ports.js";
import { residentEventTypes, type ResidentEventType } from "../../../ca/residents/resident-event.js";
import type { EventResult } from "../../../events/resident-event-processor.js";
import { purgeResidentHistory } from "../../../events/resident-history-purge.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase } from "../../support/database.js";
import { changesFor, event, residentCode, T0, wire } from "../../support/resident-event-fixtures.js";
import { authSerial, certificateStates, eventProcessor, eventStores, seedCaGenerations, seedResidents, signSerial } from "../../support/resident-event-seed.js";

const json = (e: ReturnType<typeof event>) => ({ raw: { json: wire(e) } });
const count = async (t: TestDatabase, table: string): Promise<number> => Number(((await t.db.knex(table).count({ n: "*" }).first()) as { n: unknown }).n);

/** Expected statuses per docs/domain.md §3 line, end to end: event in → certificate statuses out. */
const expected: Record<ResidentEventType, { sign: string; auth: string }> = {
  ADDRESS_CHANGED: { sign: "affiliationChanged", auth: "valid" },
  NAME_CHANGED: { sign: "affiliationChanged", auth: "valid" },
  ALIAS_CHANGED: { sign: "valid", auth: "valid" }, // no alias in the certificate
  GENDER_CHANGED: { sign: "affiliationChanged", auth: "valid" },
  BIRTHDATE_CORRECTED: { sign: "affiliationChanged", auth: "valid" },
  MINOR_CORRECTION: { sign: "valid", auth: "valid" },
  DECEASED: { sign: "cessationOfOperation", auth: "cessationOfOperation" },
  REMOVED: { sign: "cessationOfOperation", auth: "cessationOfOperation" },
  EMIGRATED: { sign: "cessationOfOperation", auth: "cessationOfOperation" },
  EMIGRATED_CONTINUED_USE: { sign: "affiliationChanged", auth: "valid" },
  CARD_INVALIDATED: { sign: "superseded", auth: "superseded" }, // cardReplaced: true
  RECORD_ERROR: { sign: "affiliationChanged", auth: "affiliationChanged" },
};

for (const engine of ["postgres", "pglite"] as const) {
  describe(`resident event processor on ${engine}`, function () {
    this.timeout(60_000);
    let t: TestDatabase;
    let clock: FixedClock;

    before(async function () {
      if (engine === "postgres") requirePostgresUrl(this);
      t = await openTestDatabase(engine);
      await seedCaGenerations(t.db);
      clock = new FixedClock(T0);
    });
    after(async function () {
      await t?.close();
    });

    it("every line of the docs/domain.md §3 table, end to end, in one batch", async function () {
      await seedResidents(t.db, 100, residentEventTypes.length);
      const processor = eventProcessor(t.db, clock);
      const events = residentEventTypes.map((type, i) => event(type, changesFor[type], { residentCode: residentCode(100 + i) }));
      const results = await processor.process(events.map(json), "http");
      const states = await certificateStates(t.db);
      residentEventTypes.forEach((type, i) => {
        const r = results[i]!;
        assert.equal(r.outcome, "applied", `${type}: ${r.reason}`);
        const status = (serial: string): string => (states.get(serial)!.status === "revoked" ? states.get(serial)!.reason! : states.get(serial)!.status);
        assert.deepEqual({ sign: status(signSerial(100 + i)), auth: status(authSerial(100 + i)) }, expected[type], type);
        assert.equal(r.revoked.length, Object.values(expected[type]).filter((s) => s !== "valid").length);
      });
      // revocation time = now, invalidity date = 00:00 JST of the effective date
      const revoked = (await t.db.knex("certificates").where({ serial: signSerial(100) }).first()) as Record<string, unknown>;
      assert.equal(new Date(revoked.revoked_at as string).toISOString(), T0.toISOString());
      assert.equal(new Date(revoked.invalidity_date as string).toISOString(), "2026-11-19T15:00:00.000Z");
      // one outbox row per revocation, for the CRL and OCSP parts
      const outbox = (await t.db.knex("outbox").where({ topic: "certificate.revoked" })) as Array<{ payload: Record<string, unknown> }>;
      assert.equal(outbox.length, results.reduce((n, r) => n + r.revoked.length, 0));
      assert.deepEqual(outbox.find((o) => o.payload.serial === signSerial(100))!.payload, { serial: signSerial(100), caId: "sign-g1", partition: 100 % 16, reason: "affiliationChanged" });
      // the record mirror follows the events; the superseded version is kept
      const mirror = eventStores(t.db).mirror;
      const rec = (await t.db.knex("residents").where({ resident_code: residentCode(100) }).first()) as Record<string, unknown>;
      assert.equal(rec.address, changesFor.ADDRESS_CHANGED.address);
      assert.equal((await mirror.history(residentCode(100)))[0]?.address, "東京都新宿区歌舞伎町一丁目４番１号");
      assert.equal(((await t.db.knex("residents").where({ resident_code: residentCode(106) }).first()) as Record<string, unknown>).status, "deceased");
      // one audit entry for the batch, naming each event and what it revoked
      const audit = (await t.db.knex("audit_log").where({ action: "resident-events.processed" }).orderBy("seq", "desc").first()) as { detail: { events: Array<{ eventId: string; revoked: string[] }> } };
      assert.equal(audit.detail.events.length, residentEventTypes.length);
      assert.deepEqual(audit.detail.events[0]!.revoked, [signSerial(100)]);
    });

    it("a duplicate changes nothing, across batches and within one", async function () {
      await seedResidents(t.db, 200, 2);
      const processor = eventProcessor(t.db, clock);
      const e = event("DECEASED", {}, { residentCode: residentCode(200) });
      const first = await processor.process([json(e)], "nats");
      assert.equal(first[0]!.outcome, "applied");
      const counts = { outbox: await count(t, "outbox"), audit: await count(t, "audit_log"), events: await count(t, "resident_events"), history: await count(t, "resident_history") };
      const again = await processor.process([json(e), json(e)], "http");
      assert.deepEqual(again.map((r) => r.outcome), ["duplicate", "duplicate"]);
      assert.deepEqual({ outbox: await count(t, "outbox"), audit: await count(t, "audit_log"), events: await count(t, "resident_events"), history: await count(t, "resident_history") }, counts);
      const e2 = event("DECEASED", {}, { residentCode: residentCode(201) });
      const within = await processor.process([json(e2), { raw: { text: JSON.stringify(wire(e2)) } }], "file");
      assert.deepEqual(within.map((r) => r.outcome), ["applied", "duplicate"]);
    });

    it("an event older than the record still revokes but never overwrites newer fields", async function () {
      await seedResidents(t.db, 300, 1);
      const processor = eventProcessor(t.db, clock);
      const code = residentCode(300);
      const newer = event("ADDRESS_CHANGED", changesFor.ADDRESS_CHANGED, { residentCode: code, effectiveDate: "2026-11-20" });
      await processor.process([json(newer)], "http");
      // a certificate issued after the move, with the new address
      await t.db.knex("certificates").where({ serial: signSerial(300) }).update({ status: "valid", revocation_reason: null, revoked_at: null });
      const older = event("ADDRESS_CHANGED", { address: "東京都港区芝公園四丁目２番８号", addressSubstituteFlags: "0".repeat(15) }, { residentCode: code, effectiveDate: "2026-11-01" });
      const [r] = await processor.process([json(older)], "http");
      assert.equal(r!.outcome, "applied");
      assert.deepEqual(r!.revoked, [signSerial(300)]);
      const rec = (await t.db.knex("residents").where({ resident_code: code }).first()) as Record<string, unknown>;
      assert.equal(rec.address, changesFor.ADDRESS_CHANGED.address);
      assert.equal((await eventStores(t.db).mirror.history(code)).length, 1, "only the real change left a superseded row");
    });

    it("malformed, unknown-type and unknown-resident events are rejected, kept, listed and replayable", async function () {
      const processor = eventProcessor(t.db, clock);
      const unknownResident = event("DECEASED", {}, { residentCode: residentCode(400) });
      const badDate = { ...wire(event("DECEASED", {}, { residentCode: residentCode(401) })), effectiveDate: "2026/11/20" };
      const results = await processor.process(
        [{ raw: { text: "{not json" }, source: "file:x:1" }, { raw: { json: { ...wire(event("DECEASED")), type: "MARRIED" } } }, { raw: { json: badDate } }, json(unknownResident)],
        "file",
      );
      assert.deepEqual(results.map((r) => r.outcome), ["rejected", "rejected", "rejected", "rejected"]);
      assert.match(results[0]!.reason!, /^malformed-json/);
      assert.match(results[1]!.reason!, /^unknown-type/);
      assert.match(results[2]!.reason!, /effectiveDate/);
      assert.match(results[3]!.reason!, /^unknown-resident/);
      const listed = await processor.list("rejected");
      const mine = listed.slice(-4);
      assert.deepEqual(mine.map((r) => r.reason?.split(":")[0]), ["malformed-json", "unknown-type", "invalid-field", "unknown-resident"]);
      assert.equal(mine[0]!.raw, "{not json");
      assert.equal(mine[0]!.source, "file:x:1");
      // a rejected event's identical resend is a duplicate; the fix is the operator's replay
      assert.equal((await processor.process([{ raw: { text: "{not json" } }], "file"))[0]!.outcome, "duplicate");
      assert.equal((await processor.process([json(unknownResident)], "http"))[0]!.outcome, "duplicate");
      // the fix: the resident record arrives; replay applies it
      await seedResidents(t.db, 400, 1);
      const replayed = await processor.replay(mine[3]!.seq, "operator:ops1");
      assert.equal(replayed.outcome, "applied");
      assert.deepEqual([...replayed.revoked].sort(), [signSerial(400), authSerial(400)].sort());
      const row = await eventStores(t.db).events.get(mine[3]!.seq);
      assert.equal(row!.outcome, "applied");
      assert.equal(row!.attempts, 2);
      // still malformed: stays rejected; replaying an applied event is a conflict
      assert.equal((await processor.replay(mine[0]!.seq, "operator:ops1")).outcome, "rejected");
      await assert.rejects(processor.replay(mine[3]!.seq, "operator:ops1"), /only rejected events/);
    });

    it("the per-event cap rejects an event that would revoke too many, raises the alarm, and yields to a reviewed replay", async function () {
      await seedResidents(t.db, 500, 1);
      const code = residentCode(500);
      // three more live certificates for the same resident: 5 in all
      const base = (await t.db.knex("certificates").where({ serial: authSerial(500) }).first()) as Record<string, unknown>;
      for (const s of ["c1", "c2", "c3"]) await t.db.knex("certificates").insert({ ...base, serial: `${s}00000500`, public_key_sha256: s.padEnd(64, "1") });
      const processor = eventProcessor(t.db, clock);
      const [r] = await processor.process([json(event("DECEASED", {}, { residentCode: code }))], "nats");
      assert.equal(r!.outcome, "rejected");
      assert.match(r!.reason!, /revocation-cap-exceeded: would revoke 5 certificates, at most 4/);
      assert.equal((await t.db.knex("certificates").where({ resident_code: code, status: "valid" })).length, 5);
      assert.ok(await t.db.knex("audit_log").where({ action: "resident-event.revocation-cap-exceeded" }).first());
      const seq = (await processor.list("rejected")).find((x) => x.residentCode === code)!.seq;
      assert.equal((await processor.replay(seq, "operator:ops1")).outcome, "rejected");
      const ok = await processor.replay(seq, "operator:ops1", { allowOverCap: true });
      assert.equal(ok.outcome, "applied");
      assert.equal(ok.revoked.length, 5);
    });

    it("the rate breaker halts: later events are stored deferred until a ca-operator resumes", async function () {
      await seedResidents(t.db, 1000, 30);
      const processor = eventProcessor(t.db, clock, { limits: { maxRevocationsPerEvent: 4, maxRevocationsInWindow: 20, windowMs: 600_000 }, batchSize: 8 });
      clock.advance(3_600_000); // a fresh window
      const events = Array.from({ length: 30 }, (_, i) => event("ADDRESS_CHANGED", changesFor.ADDRESS_CHANGED, { residentCode: residentCode(1000 + i) }));
      const results = await processor.process(events.map(json), "nats");
      assert.deepEqual(
        results.map((r) => r.outcome),
        [...Array(20).fill("applied"), ...Array(10).fill("deferred")],
      );
      const status = await processor.status();
      assert.equal(status.valve.halted, true);
      assert.equal(status.valve.haltReason, "rate-breaker");
      assert.ok(await t.db.knex("audit_log").where({ action: "events.safety-valve.tripped" }).first());
      // still accepted and stored, not applied
      const late = await processor.process([json(event("DECEASED", {}, { residentCode: residentCode(1000) }))], "http");
      assert.equal(late[0]!.outcome, "deferred");
      assert.equal((await t.db.knex("certificates").where({ serial: authSerial(1000) }).first()).status, "valid");
      assert.equal((await processor.list("deferred")).length, 11);

      const report = await processor.resume("operator:ops1");
      // 10 address changes, and a death whose signing certificate the address change revoked already
      assert.deepEqual(report, { applied: 11, rejected: 0, deferredRejected: 0, revoked: 11, resumed: true });
      assert.equal((await processor.status()).valve.halted, false);
      assert.equal((await t.db.knex("certificates").where({ serial: authSerial(1000) }).first()).status, "revoked");
      assert.ok(await t.db.knex("audit_log").where({ action: "events.safety-valve.resumed", actor: "operator:ops1" }).first());
      // the window restarts at the resume
      clock.advance(1000);
      assert.equal((await processor.process([json(event("DECEASED", {}, { residentCode: residentCode(1001) }))], "http"))[0]!.outcome, "applied");
    });

    it("resume can reject the deferred backlog instead (kept for replay one by one)", async function () {
      await seedResidents(t.db, 2000, 3);
      const processor = eventProcessor(t.db, clock);
      assert.equal(await processor.halt("operator:ops1"), true);
      assert.equal(await processor.halt("operator:ops1"), false);
      const results = await processor.process([0, 1, 2].map((i) => json(event("DECEASED", {}, { residentCode: residentCode(2000 + i) }))), "http");
      assert.deepEqual(results.map((r) => r.outcome), ["deferred", "deferred", "deferred"]);
      const report = await processor.resume("cli", { deferred: "reject" });
      assert.equal(report.deferredRejected, 3);
      assert.equal(report.resumed, true);
      const rejected = (await processor.list("rejected")).filter((r) => r.reason?.startsWith("rejected-by-operator"));
      assert.equal(rejected.length, 3);
      assert.equal((await processor.replay(rejected[0]!.seq, "cli")).outcome, "applied");
    });

    it("purges superseded record versions after the retention period, with a dry run first", async function () {
      const { mirror, audit } = eventStores(t.db);
      const before = await count(t, "resident_history");
      assert.ok(before > 0);
      const deps = { clock, transactions: t.db, mirror, audit };
      assert.deepEqual((await purgeResidentHistory(deps, "cli", { dryRun: true })).rows, 0, "nothing is 5 years old yet");
      const later = new FixedClock(new Date(clock.now().getTime() + 5 * 366 * 86_400_000));
      const dry = await purgeResidentHistory({ ...deps, clock: later }, "cli", { dryRun: true });
      assert.equal(dry.rows, before);
      assert.equal(await count(t, "resident_history"), before, "a dry run deletes nothing");
      const real = await purgeResidentHistory({ ...deps, clock: later }, "cli", { dryRun: false, batchSize: 2 });
      assert.equal(real.rows, before);
      assert.equal(await count(t, "resident_history"), 0);
      assert.ok(await count(t, "residents") > 0, "current records stay");
    });
  });
}

export type { EventResult };
