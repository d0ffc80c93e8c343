import assert from "node:assert/strict";
import type { Knex } from "knex";
import { AuditCheckpointer } from "../../../ca/audit/audit-checkpoint.js";
import { AuditVerifier } from "../../../ca/audit/audit-verifier.js";
import { FixedClock } from "../../../ca/ports.js";
import { defaultRetentionPeriods, RetentionService } from "../../../ca/records/retention.js";
import { auditVerify, type AuditCliService } from "../../../cli/audit-commands.js";
import { KnexAuditCheckpointStore } from "../../../db/audit-checkpoint-store.js";
import { KnexAuditLogReader } from "../../../db/audit-log-reader.js";
import { KnexAuditStore } from "../../../db/audit-store.js";
import { standardRetentionTasks } from "../../../db/retention-standard-tasks.js";
import { MemorySigner } from "../../../hsm/memory-signer.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase, type TestEngine } from "../../support/database.js";

/**
 * Tampering with the audit table in SQL — past the append-only trigger with the purge setting, as an
 * insider with database access could — is found by `POST /v1/admin/audit/verify` / `audit verify`:
 * edited, deleted and reordered entries. The retention purge keeps the rest verifiable.
 */
for (const engine of ["pglite", "postgres"] as TestEngine[]) {
  describe(`audit log tampering in SQL is detected (${engine})`, function () {
    this.timeout(60_000);
    let t: TestDatabase;
    let k: Knex;
    let clock: FixedClock;
    const key = MemorySigner.generate({ type: "ec", curve: "P-256" });
    let snapshot: Record<string, unknown>[];
    let headRow: Record<string, unknown>;

    const tools = () => {
      const reader = new KnexAuditLogReader(t.db);
      const store = new KnexAuditCheckpointStore(t.db);
      const audit = new KnexAuditStore(t.db);
      const checkpointer = new AuditCheckpointer({ signer: key, keyLabel: "audit-checkpoint", store, audit, head: () => reader.head(), transactions: t.db, clock });
      const verifier = new AuditVerifier({ log: reader, checkpoints: store, trustedKeys: [key.publicKey], now: () => clock.now(), pageSize: 16 });
      return { reader, audit, checkpointer, verifier };
    };
    /** Runs SQL the way an insider would: in a transaction with the purge setting on. */
    const tamper = (work: (trx: Knex.Transaction) => Promise<unknown>) =>
      k.transaction(async (trx) => {
        await trx.raw("set local ca.audit_purge = 'on'");
        await work(trx);
      });
    const findings = async () => (await tools().verifier.verify()).findings.map((f) => [f.seq, f.problem]);

    before(async function () {
      if (engine === "postgres") requirePostgresUrl(this);
      t = await openTestDatabase(engine);
      k = t.db.knex;
      clock = new FixedClock(new Date("2026-11-24T01:00:00Z"));
      const { audit, checkpointer } = tools();
      for (let i = 1; i <= 40; i++) {
        clock.advance(60_000);
        await audit.append({ at: clock.now(), action: "test.step", actor: "operator:tanaka", subject: `certificate:${i.toString(16)}`, outcome: "success", detail: { i, name: "山田　太郎" } });
        if (i === 20) await checkpointer.checkpoint("periodic", "system");
      }
      snapshot = await k("audit_log").orderBy("seq");
      headRow = (await k("audit_head").first()) as Record<string, unknown>;
    });
    afterEach(async () => {
      // Put the table back as it was for the next case.
      await tamper(async (trx) => {
        await trx("audit_log").del();
        await trx("audit_log").insert(snapshot.map((r) => ({ ...r, detail: JSON.stringify(r.detail) })));
        await trx("audit_head").update(headRow);
      });
    });
    after(async () => {
      await t?.close();
    });

    it("verifies the untouched log, and the trigger refuses changes without the purge setting", async () => {
      const v = await tools().verifier.verify();
      assert.equal(v.ok, true, JSON.stringify(v.findings));
      assert.equal(v.entries, 41);
      assert.equal(v.checkpoints.valid, 1);
      await assert.rejects(k("audit_log").where({ seq: 3 }).update({ actor: "operator:nobody" }), /append-only/);
      await assert.rejects(k("audit_log").where({ seq: 3 }).del(), /append-only/);
    });

    it("finds an edited entry", async () => {
      await tamper((trx) => trx("audit_log").where({ seq: 7 }).update({ actor: "operator:someone-else" }));
      assert.deepEqual(await findings(), [[7, "edited"]]);
    });

    it("finds an edited entry whose hash was recomputed, through the next link and the signed checkpoint", async () => {
      const reader = new KnexAuditLogReader(t.db);
      const [e] = await reader.range(20, 1);
      const { hashEntry } = await import("../../../ca/audit/audit-chain.js");
      const forged = { ...e!, detail: { i: 20, name: "別人" } };
      await tamper((trx) => trx("audit_log").where({ seq: 20 }).update({ detail: JSON.stringify(forged.detail), hash: hashEntry(e!.prevHash, forged) }));
      assert.deepEqual(await findings(), [[20, "edited"], [20, "edited"]]);
    });

    it("finds a deleted entry and a deleted tail", async () => {
      await tamper((trx) => trx("audit_log").where({ seq: 12 }).del());
      assert.deepEqual(await findings(), [[12, "deleted"]]);
      await tamper((trx) => trx("audit_log").where("seq", ">=", 40).del());
      assert.deepEqual(await findings(), [[12, "deleted"], [40, "deleted"]]);
    });

    it("finds reordered entries", async () => {
      await tamper(async (trx) => {
        await trx("audit_log").where({ seq: 5 }).update({ seq: -5 });
        await trx("audit_log").where({ seq: 6 }).update({ seq: 5 });
        await trx("audit_log").where({ seq: -5 }).update({ seq: 6 });
      });
      assert.deepEqual(await findings(), [[5, "reordered"], [6, "reordered"]]);
    });

    it("`audit verify` exits 1 and names the entry", async () => {
      await tamper((trx) => trx("audit_log").where({ seq: 9 }).update({ outcome: "failure" }));
      const custody = {
        findKey: async () => ({ uri: "pkcs11:object=audit-checkpoint", publicKey: key.publicKey }),
        generateKey: async () => {
          throw new Error("not expected");
        },
        signer: async () => key,
      };
      const service = { db: t.db, hsm: custody, clock, stores: { audit: new KnexAuditStore(t.db) } } as unknown as AuditCliService;
      const lines: string[] = [];
      assert.equal(await auditVerify(service, [], (l) => void lines.push(l)), 1);
      assert.match(lines[0]!, /DOES NOT VERIFY/);
      assert.match(lines[1]!, /edited\s+seq\s+9 /);
      const last = (await k("audit_log").orderBy("seq", "desc").first()) as { action: string; outcome: string };
      assert.deepEqual([last.action, last.outcome], ["audit.verified", "failure"]);
    });

    it("purges entries past 7 years behind a signed checkpoint; the rest still verifies", async () => {
      const { audit, checkpointer, verifier } = tools();
      const later = new FixedClock(new Date("2034-01-10T00:00:00Z"));
      await audit.append({ at: new Date("2033-12-01T00:00:00Z"), action: "test.recent", actor: "system", subject: null, outcome: "success", detail: {} });
      const retention = new RetentionService({ tasks: standardRetentionTasks(t.db, defaultRetentionPeriods, { checkpointer, verify: () => verifier.verify() }), audit, clock: later });
      const dry = await retention.run("cli", { dryRun: true, only: ["audit-log"] });
      assert.equal(dry.tasks[0]!.eligible, 41);
      assert.equal(await k("audit_log").where("seq", "<=", 41).count({ n: "*" }).first().then((r) => Number((r as { n: unknown }).n)), 41, "dry run changed nothing");
      const report = await retention.run("cli", { dryRun: false, only: ["audit-log"] });
      assert.equal(report.tasks[0]!.purged, 41);
      const v = await verifier.verify();
      assert.equal(v.ok, true, JSON.stringify(v.findings));
      assert.deepEqual(v.anchor, { kind: "checkpoint", seq: 41 });
      // Removing one more entry from the new head of the log is found.
      await tamper((trx) => trx("audit_log").where({ seq: 42 }).del());
      assert.deepEqual((await verifier.verify()).findings.map((f) => f.problem), ["deleted"]);
      await tamper((trx) => trx("audit_checkpoints").del());
    });
  });
}
