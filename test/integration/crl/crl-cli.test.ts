import assert from "node:assert/strict";
import { CaError } from "../../../ca/errors.js";
import { FixedClock } from "../../../ca/ports.js";
import { crlCheck, crlRun, type CrlCliService } from "../../../cli/crl-commands.js";
import { KnexAuditStore } from "../../../db/audit-store.js";
import { openTestDatabase, type TestDatabase } from "../../support/database.js";
import { createCrlWorld, type CrlWorld } from "../../support/crl-world.js";

/** `npm run cli -- crl run [caId]` and `crl check [caId]` against PGlite. */
describe("cli crl run / crl check", function () {
  this.timeout(60_000);
  let t: TestDatabase;
  let world: CrlWorld;
  let service: CrlCliService;
  let lines: string[];
  const print = (line: string): void => void lines.push(line);

  before(async () => {
    t = await openTestDatabase("pglite");
    world = await createCrlWorld(t.db, { partitionCount: 3 });
    const clock = new FixedClock(new Date());
    for (let i = 0; i < 6; i++) {
      const c = await world.issue();
      if (i % 2 === 0) await world.revoke(c.serial, "affiliationChanged", clock.now());
    }
    service = { clock, stores: { audit: new KnexAuditStore(t.db) }, crl: world.crl(t.db, { clock }) };
  });
  after(async () => {
    await t?.close();
  });
  beforeEach(() => {
    lines = [];
  });

  it("crl check fails before any CRL exists, naming the absent partitions", async () => {
    assert.equal(await crlCheck(service, [], print), 1);
    assert.match(lines[0]!, /^crl check: FAILED: 3 partitions/);
    assert.ok(lines.some((l) => /absent: sign-g1 partition 0/.test(l)));
  });

  it("crl run sign-g1 issues every partition, prints it and records it in the audit log", async () => {
    assert.equal(await crlRun(service, ["sign-g1"], print), 0);
    assert.match(lines[0]!, /^crl run sign-g1: 3\/3 partitions issued a full and a delta CRL \(CRL numbers 1–1\), 3 entries in the full CRLs$/);
    const audit = (await new KnexAuditStore(t.db).range(1, 100)).filter((e) => e.action === "crl.run");
    assert.deepEqual(audit.map((e) => [e.actor, e.subject, e.outcome]), [["cli", "ca:sign-g1", "success"]]);
  });

  it("crl check then passes", async () => {
    assert.equal(await crlCheck(service, ["sign-g1"], print), 0, lines.join("\n"));
    assert.match(lines[0]!, /^crl check: OK: 3 partitions, 3 revoked unexpired certificates/);
  });

  it("refuses a malformed or unknown CA id", async () => {
    await assert.rejects(crlRun(service, ["sign-1"], print), CaError);
    await assert.rejects(crlRun(service, ["auth-g1"], print), (e: unknown) => e instanceof CaError && e.kind === "not-found");
    await assert.rejects(crlCheck(service, ["sign-g1", "x"], print), CaError);
  });
});
