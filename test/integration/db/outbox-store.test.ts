import assert from "node:assert/strict";
import { KnexOutboxStore } from "../../../db/outbox-store.js";
import { openTestDatabase, type TestDatabase } from "../../support/database.js";

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
