import assert from "node:assert/strict";
import { KnexOutboxStore } from "../../../db/outbox-store.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase } from "../../support/database.js";

describe("KnexOutboxStore on PGlite", function () {
  let t: TestDatabase;
  let outbox: KnexOutboxStore;
  before(async function () {
    t = await openTestDatabase("pglite");
    outbox = new KnexOutboxStore(t.db);
  });
  after(async function () {
    await t.close();
  });

  it("gives each consumer every message once its cursor moves, never going backwards", async function () {
    for (let i = 0; i < 5; i++) await outbox.add("certificate.revoked", { serial: `0${i}` });
    const crl = await outbox.readAfterCursor("crl", 3);
    assert.deepEqual(crl.map((m) => m.payload.serial), ["00", "01", "02"]);
    await outbox.advanceCursor("crl", crl[2]!.id);
    assert.deepEqual((await outbox.readAfterCursor("crl", 10)).map((m) => m.payload.serial), ["03", "04"]);
    // another consumer still sees everything
    assert.equal((await outbox.readAfterCursor("ocsp", 10)).length, 5);
    await outbox.advanceCursor("crl", crl[0]!.id); // backwards: ignored
    assert.equal((await outbox.readAfterCursor("crl", 10)).length, 2);
  });

  it("rolls back with the transaction it was written in", async function () {
    const before = (await outbox.readAfterCursor("audit-x", 100)).length;
    await assert.rejects(
      t.db.transaction(async (tx) => {
        await outbox.add("certificate.issued", { serial: "ff" }, tx);
        throw new Error("boom");
      }),
    );
    assert.equal((await outbox.readAfterCursor("audit-x", 100)).length, before);
  });
});

describe("KnexOutboxStore on PostgreSQL: ids that commit out of order", function () {
  let t: TestDatabase;
  before(async function () {
    requirePostgresUrl(this);
    t = await openTestDatabase("postgres");
  });
  after(async function () {
    await t?.close();
  });

  it("never moves a consumer's cursor past an id whose transaction has not committed yet", async function () {
    const outbox = new KnexOutboxStore(t.db);
    await outbox.add("certificate.issued", { serial: "00" });
    const first = await outbox.readAfterCursor("ocsp", 10);
    await outbox.advanceCursor("ocsp", first.at(-1)!.id);

    // A: inserts (lower id) and stays open; B: inserts (higher id) and commits.
    let releaseA!: () => void;
    const aInserted = new Promise<void>((resolveInserted) => {
      void t.db.knex.transaction(async (trx) => {
        await trx("outbox").insert({ topic: "certificate.revoked", payload: JSON.stringify({ serial: "aa" }) });
        resolveInserted();
        await new Promise<void>((r) => (releaseA = r));
      });
    });
    await aInserted;
    await outbox.add("certificate.revoked", { serial: "bb" });

    const seen1 = await outbox.readAfterCursor("ocsp", 10);
    assert.deepEqual(seen1.map((m) => m.payload.serial), ["bb"], "only the committed row is visible");
    await outbox.advanceCursor("ocsp", seen1.at(-1)!.id);

    releaseA();
    await new Promise((r) => setTimeout(r, 100));
    const seen2 = await outbox.readAfterCursor("ocsp", 10);
    assert.deepEqual(seen2.map((m) => m.payload.serial), ["aa"], "the late commit is delivered, the other row not twice");
    await outbox.advanceCursor("ocsp", seen2.at(-1)!.id);

    // After a restart (a new store), nothing is delivered again and nothing is missing.
    const restarted = new KnexOutboxStore(t.db);
    assert.deepEqual(await restarted.readAfterCursor("ocsp", 10), []);
  });

  it("takes a hole older than the wait as a rolled-back insert", async function () {
    const outbox = new KnexOutboxStore(t.db);
    await assert.rejects(
      t.db.transaction(async (tx) => {
        await outbox.add("certificate.issued", { serial: "rolled-back" }, tx);
        throw new Error("rollback");
      }),
    );
    await outbox.add("certificate.issued", { serial: "after-hole" });
    // pretend the row after the hole is old
    await t.db.knex("outbox").where({ topic: "certificate.issued" }).update({ created_at: t.db.knex.raw("now() - interval '1 hour'") });
    const seen = await outbox.readAfterCursor("crl", 100);
    await outbox.advanceCursor("crl", seen.at(-1)!.id);
    const restarted = new KnexOutboxStore(t.db);
    assert.deepEqual(await restarted.readAfterCursor("crl", 10), [], "the cursor moved over the settled hole");
  });
});
