import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { Knex } from "knex";
import { ApprovalEngine } from "../../../ca/approvals/approval-engine.js";
import { exportCsvHeader, IssuanceExport, issuanceExportExecutor } from "../../../ca/approvals/approval-export.js";
import { AuditCheckpointer } from "../../../ca/audit/audit-checkpoint.js";
import { AuditVerifier } from "../../../ca/audit/audit-verifier.js";
import { CaError } from "../../../ca/errors.js";
import { DisclosureService } from "../../../ca/records/disclosure.js";
import type { OperatorPrincipal } from "../../../ca/operators/operator-principal.js";
import { FixedClock, type Random } from "../../../ca/ports.js";
import { defaultRetentionPeriods, RetentionService } from "../../../ca/records/retention.js";
import type { OperatorRole } from "../../../ca/operators/roles.js";
import { KnexApprovalStore } from "../../../db/approval-store.js";
import { KnexAuditCheckpointStore } from "../../../db/audit-checkpoint-store.js";
import { KnexAuditLogReader } from "../../../db/audit-log-reader.js";
import { KnexAuditStore } from "../../../db/audit-store.js";
import { relyingPartyAccessDisclosureSource, residentEventsDisclosureSource } from "../../../db/inquiry-disclosure-sources.js";
import { KnexInquirySource } from "../../../db/inquiry-store.js";
import { KnexIssuanceExportSource } from "../../../db/issuance-export-source.js";
import { standardRetentionTasks } from "../../../db/retention-standard-tasks.js";
import { MemorySigner } from "../../../hsm/memory-signer.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase, type TestEngine } from "../../support/database.js";

const random: Random = { bytes: (n) => new Uint8Array(randomBytes(n)) };
const R1 = "12345678901";
const R2 = "23456789012";
const op = (operatorId: string, ...roles: OperatorRole[]): OperatorPrincipal => ({ operatorId, roles, mustChangePassword: false, sessionTokenHash: "0", terminalFingerprint: "0", expiresAt: new Date() });
const serial = (n: number): string => (0x40_0000 + n).toString(16).padStart(32, "0");

/** Seeds one CA generation, two residents, certificates, 1,050 issuances, events, history and access records. */
async function seed(k: Knex): Promise<void> {
  await k("ca_generations").insert({
    id: "sign-g1", kind: "sign", generation: 1, key_algorithm: "RSA-2048", signature_algorithm: "sha256WithRSAEncryption", key_uri: "pkcs11:object=x",
    certificate: Buffer.from([0x30, 0]), serial_prefix: 1, partition_count: 4, status: "active", ocsp_responder_certificate: null, ocsp_responder_key_uri: null, created_at: new Date("2026-01-01T00:00:00Z"),
  });
  const resident = (code: string, name: string) => ({ resident_code: code, name, name_substitute_flags: "00000", alias: null, alias_substitute_flags: null, date_of_birth: "1980-02-17", gender: 1, address: "東京都新宿区", address_substitute_flags: "000000", created_at: new Date(), updated_at: new Date() });
  await k("residents").insert([resident(R1, "山田　太郎"), resident(R2, "佐藤　花子")]);
  const issuances = Array.from({ length: 1050 }, (_, i) => ({
    issuance_id: `iss-${String(i).padStart(5, "0")}`, terminal_id: "counter-01", idempotency_key: `k${i}`, request_sha256: "0", operator_id: "tanaka",
    municipality_code: i % 10 === 0 ? "271004" : "131041", application_date: "2026-10-01", resident_code: i % 2 ? R1 : R2, status: "completed",
    response: JSON.stringify({ certificates: [{ subject: { name: "山田　太郎" } }] }),
    // Several per second (equal created_at values exercise the keyset tie-break), from 2026-10-01 JST.
    created_at: new Date(Date.parse("2026-09-30T15:00:00Z") + Math.floor(i / 3) * 1000), completed_at: null,
  }));
  for (let i = 0; i < issuances.length; i += 500) await k("issuances").insert(issuances.slice(i, i + 500));
  const cert = (n: number, e: { resident: string; issuance: string; notAfter: string; status?: string; revokedAt?: string }) => ({
    serial: serial(n), ca_id: "sign-g1", kind: "sign", status: e.status ?? "valid", not_before: new Date("2026-01-01T00:00:00Z"), not_after: new Date(e.notAfter), partition: 0,
    der: Buffer.from("personal DER"), tbs: Buffer.from("personal TBS"), public_key_sha256: `pk${n}`, subject_id: `s${n}`, resident_code: e.resident, issuance_id: e.issuance,
    recorded: JSON.stringify({ answer: { subject: { name: "山田　太郎" } }, resident: { name: "山田　太郎" }, municipalityCode: "131041", applicationDate: "2026-10-01", terminalId: "counter-01", operatorId: "tanaka", issuanceId: e.issuance }),
    revoked_at: e.revokedAt ? new Date(e.revokedAt) : null, revocation_reason: e.revokedAt ? "affiliationChanged" : null, invalidity_date: null,
    created_at: new Date("2026-10-01T00:00:00Z"), updated_at: new Date("2026-10-01T00:00:00Z"),
  });
  await k("certificates").insert([
    cert(1, { resident: R1, issuance: "iss-00001", notAfter: "2029-02-17T14:59:59Z", status: "revoked", revokedAt: "2027-04-01T00:00:00Z" }),
    cert(2, { resident: R1, issuance: "iss-00003", notAfter: "2031-02-17T14:59:59Z" }),
    cert(3, { resident: R2, issuance: "iss-00002", notAfter: "2031-02-17T14:59:59Z" }),
  ]);
  const history = (at: string) => ({ resident_code: R1, name: "山田　太郎", name_substitute_flags: "00000", alias: null, alias_substitute_flags: null, date_of_birth: "1980-02-17", gender: 1, address: "旧住所", address_substitute_flags: "000", status: "registered", valid_from: new Date("2020-01-01T00:00:00Z"), superseded_at: new Date(at), superseded_by: "ev-1" });
  await k("resident_history").insert([history("2034-01-01T00:00:00Z"), history("2036-01-01T00:00:00Z")]);
  await k("resident_events").insert({ event_key: "mun-1", event_id: "mun-1", resident_code: R1, type: "ADDRESS_CHANGED", effective_date: "2027-03-31", payload: "{}", raw: null, raw_size: 2, transport: "http", source: "feed-1", outcome: "applied", reason: null, revoked: JSON.stringify([serial(1)]), revoked_count: 1, received_at: new Date("2027-04-01T00:00:00Z"), processed_at: new Date("2027-04-01T00:00:00Z") });
  await k("ocsp_access_log").insert([
    { at: new Date("2031-01-01T00:00:00Z"), party: "bank-1", serial: serial(2), ca_id: "sign-g1", answer: "good" },
    { at: new Date("2039-01-01T00:00:00Z"), party: "kiosk-2", serial: serial(2), ca_id: "sign-g1", answer: "good" },
    { at: new Date("2039-01-01T00:00:00Z"), party: "bank-1", serial: serial(3), ca_id: "sign-g1", answer: "good" },
  ]);
  await k("crl_access_log").insert([
    { at: new Date("2031-01-01T00:00:00Z"), party: "bank-1", ca_id: "sign-g1", partition: 3, kind: "full", crl_number: 7 },
    { at: new Date("2039-01-01T00:00:00Z"), party: "kiosk-2", ca_id: "sign-g1", partition: 3, kind: "delta", crl_number: 9 },
  ]);
  // Relying-party query answers and consents (migration 0029): one old, one recent, one open consent.
  const provision = (at: string) => ({ at: new Date(at), party_id: "bank-1", on_behalf_of: null, query: "current-serial-sign", resident_code: R1, asked_serial: serial(1), answered_serials: JSON.stringify([serial(2)]) });
  await k("relying_party_provisions").insert([provision("2031-01-01T00:00:00Z"), provision("2039-01-01T00:00:00Z")]);
  await k("relying_parties").insert({ id: "bank-1", name: "bank", active: true, api_key_sha256: null, created_at: new Date("2030-01-01T00:00:00Z") });
  const consent = (withdrawnAt: string | null) => ({ resident_code: R1, party_id: "bank-1", scope: JSON.stringify(["current-serial-sign"]), granted_at: new Date("2030-06-01T00:00:00Z"), granted_with: serial(2), withdrawn_at: withdrawnAt === null ? null : new Date(withdrawnAt), withdrawn_with: withdrawnAt === null ? null : serial(2) });
  await k("consents").insert([consent("2031-01-01T00:00:00Z"), consent(null)]);
}

async function collect(it: AsyncIterable<string>): Promise<string> {
  let s = "";
  for await (const x of it) s += x;
  return s;
}

for (const engine of ["pglite", "postgres"] as TestEngine[]) {
  describe(`admin stores, export, disclosure and retention on ${engine}`, function () {
    this.timeout(60_000);
    let t: TestDatabase;
    let k: Knex;
    const clock = new FixedClock(new Date("2026-11-24T01:00:00Z"));

    before(async function () {
      if (engine === "postgres") requirePostgresUrl(this);
      t = await openTestDatabase(engine);
      k = t.db.knex;
      await seed(k);
    });
    after(async () => {
      await t?.close();
    });

    it("approval store: compare-and-set transitions, expiry listing, one-time collection", async () => {
      const store = new KnexApprovalStore(t.db);
      const base = { kind: "x", requestedBy: "alice", requestedAt: clock.now(), params: { a: [1, "二"] }, decidedBy: null, decidedAt: null, executedAt: null, result: null, failure: null, consumedAt: null };
      await store.insert({ ...base, id: "a".repeat(22), status: "pending", expiresAt: new Date(clock.now().getTime() + 1000) });
      await assert.rejects(store.insert({ ...base, id: "a".repeat(22), status: "pending", expiresAt: clock.now() }), (e) => e instanceof CaError && e.kind === "conflict");
      assert.deepEqual((await store.get("a".repeat(22)))!.params, { a: [1, "二"] });
      assert.equal((await store.listExpired(new Date(clock.now().getTime() + 2000), 10)).length, 1);
      assert.equal(await store.transition("a".repeat(22), "approved", { status: "executed" }), false);
      assert.equal(await store.transition("a".repeat(22), "pending", { status: "approved", decidedBy: "bob", decidedAt: clock.now() }), true);
      assert.equal(await store.transition("a".repeat(22), "pending", { status: "approved", decidedBy: "eve", decidedAt: clock.now() }), false);
      assert.equal(await store.markConsumed("a".repeat(22), clock.now()), false, "not executed yet");
      assert.equal(await store.transition("a".repeat(22), "approved", { status: "executed", executedAt: clock.now(), result: { rows: 3 } }), true);
      assert.equal(await store.markConsumed("a".repeat(22), clock.now()), true);
      assert.equal(await store.markConsumed("a".repeat(22), clock.now()), false);
      const r = (await store.get("a".repeat(22)))!;
      assert.deepEqual([r.status, r.decidedBy, r.result], ["executed", "bob", { rows: 3 }]);
      assert.equal((await store.list({ status: "executed", limit: 5 })).length, 1);
    });

    it("approval store: a handover part is stored with the execution and taken once, by one of concurrent collectors", async () => {
      const store = new KnexApprovalStore(t.db);
      const id = "h".repeat(22);
      const base = { kind: "operator-create", requestedBy: "so-1", requestedAt: clock.now(), expiresAt: new Date(clock.now().getTime() + 1000), params: {}, decidedBy: null, decidedAt: null, executedAt: null, result: null, failure: null, consumedAt: null };
      await store.insert({ ...base, id, status: "approved" });
      assert.equal(await store.takeHandover(id), undefined, "none before the execution");
      assert.equal(await store.transition(id, "approved", { status: "executed", executedAt: clock.now(), result: { operatorId: "x" }, handover: "Half#One-2345" }), true);
      assert.equal(JSON.stringify(await store.get(id)).includes("Half#One"), false, "never part of the record");
      const taken = await Promise.all([store.takeHandover(id), store.takeHandover(id), store.takeHandover(id)]);
      assert.deepEqual(taken.filter((x) => x !== undefined), ["Half#One-2345"]);
      const [row] = (await k("approvals").where({ id }).select("handover")) as Array<{ handover: string | null }>;
      assert.equal(row?.handover, null, "erased in the database");
    });

    it("inquiry source: exact serial, resident code, name + date of birth", async () => {
      const s = new KnexInquirySource(t.db);
      assert.equal((await s.bySerial(serial(2)))?.residentCode, R1);
      assert.equal(await s.bySerial(serial(2).slice(0, 10)), undefined, "no prefix match");
      assert.deepEqual((await s.byResidentCode(R1, 21)).map((c) => c.serial), [serial(1), serial(2)]);
      assert.deepEqual((await s.byNameAndDateOfBirth("山田　太郎", "1980-02-17", 21)).map((c) => c.serial), [serial(1), serial(2)]);
      assert.deepEqual(await s.byNameAndDateOfBirth("山田", "1980-02-17", 21), [], "no partial name match");
    });

    it("export: approved by a second operator, streamed in keyset pages, downloaded once by the requester", async () => {
      const audit = new KnexAuditStore(t.db);
      const source = new KnexIssuanceExportSource(t.db);
      const engine = new ApprovalEngine({ store: new KnexApprovalStore(t.db), audit, transactions: t.db, clock, random });
      engine.register(issuanceExportExecutor({ source, clock }));
      const exports = new IssuanceExport({ engine, source, audit, clock });
      const alice = op("alice", "ca-operator");
      const bob = op("bob", "ca-operator");
      const purpose = "年度統計のための出力";
      const r = await engine.request(alice, "issuance-export", { from: "2026-10-01", to: "2026-10-31", format: "csv", purpose });
      await assert.rejects(exports.download(alice, r.id), (e) => e instanceof CaError && e.kind === "conflict", "not approved yet");
      await assert.rejects(engine.approve(alice, r.id), (e) => e instanceof CaError && e.kind === "forbidden", "self-approval");
      const approved = await engine.approve(bob, r.id);
      assert.equal(approved.result?.rows, 1050);
      await assert.rejects(exports.download(bob, r.id), (e) => e instanceof CaError && e.kind === "forbidden", "only the requester");
      const d = await exports.download(alice, r.id);
      const csv = await collect(d.body);
      const lines = csv.split("\r\n").filter((l) => l.length > 0);
      assert.equal(lines.length, 1051);
      assert.equal(lines[0], exportCsvHeader.join(","));
      const ids = lines.slice(1).map((l) => l.split(",")[0]);
      assert.equal(new Set(ids).size, 1050, "no row twice across pages");
      assert.ok(lines.some((l) => l.startsWith("iss-00001,") && l.endsWith(`sign:${serial(1)}`)));
      await assert.rejects(exports.download(alice, r.id), (e) => e instanceof CaError && e.kind === "conflict", "one approval, one output");
      const streamed = (await new KnexAuditLogReader(t.db).search({ from: new Date(0), to: new Date("2100-01-01"), action: "export.streamed", limit: 10 }))[0];
      assert.equal(streamed?.detail.rows, 1050);

      const j = await engine.request(alice, "issuance-export", { from: "2026-10-01", to: "2026-10-31", municipalityCode: "271004", format: "jsonl", purpose });
      await engine.approve(op("carol", "ca-admin"), j.id);
      const jsonl = (await collect((await exports.download(alice, j.id)).body)).trim().split("\n").map((l) => JSON.parse(l) as { municipalityCode: string });
      assert.equal(jsonl.length, 105);
      assert.ok(jsonl.every((x) => x.municipalityCode === "271004"));
      await assert.rejects(engine.request(alice, "issuance-export", { from: "2026-01-01", to: "2027-06-01", purpose }), (e) => e instanceof CaError && e.field === "to", "over a year");
      await assert.rejects(engine.request(alice, "issuance-export", { from: "2026-10-01", to: "2026-10-31" }), (e) => e instanceof CaError && e.field === "purpose");
    });

    it("disclosure: certificates issued and revoked, change events and relying-party accesses of one resident", async () => {
      const s = new DisclosureService({ certificates: new KnexInquirySource(t.db), sources: [residentEventsDisclosureSource(t.db), relyingPartyAccessDisclosureSource(t.db)], audit: new KnexAuditStore(t.db), clock });
      const r = await s.report("cli", R1);
      assert.deepEqual(r.certificates.map((c) => [c.serialNumber, c.status]), [[serial(1), "revoked"], [serial(2), "valid"]]);
      const section = (n: string) => r.sections.find((x) => x.name === n)!;
      assert.deepEqual(section("certificates").items.map((i) => i.category), ["certificate-issued", "certificate-issued", "certificate-revoked"]);
      assert.deepEqual(section("resident-events").items.map((i) => [i.detail.type, i.party]), [["ADDRESS_CHANGED", "feed-1"]]);
      assert.deepEqual(section("relying-party-access").items.map((i) => [i.party, i.serial]), [["bank-1", serial(2)], ["kiosk-2", serial(2)]]);
      const missing = relyingPartyAccessDisclosureSource(t.db, "no_such_table");
      assert.deepEqual(await missing.collect(R1, [serial(2)]), { name: "relying-party-access", available: false, items: [] });
    });

    it("retention: a dry run changes nothing; the purge strips and deletes exactly what is due", async () => {
      const later = new FixedClock(new Date("2040-06-01T00:00:00Z"));
      const key = MemorySigner.generate({ type: "ec", curve: "P-256" });
      const audit = new KnexAuditStore(t.db);
      const reader = new KnexAuditLogReader(t.db);
      const checkpoints = new KnexAuditCheckpointStore(t.db);
      const checkpointer = new AuditCheckpointer({ signer: key, keyLabel: "audit-checkpoint", store: checkpoints, audit, head: () => reader.head(), transactions: t.db, clock: later });
      const verifier = new AuditVerifier({ log: reader, checkpoints, trustedKeys: [key.publicKey], now: () => later.now() });
      const retention = new RetentionService({ tasks: standardRetentionTasks(t.db, defaultRetentionPeriods, { checkpointer, verify: () => verifier.verify() }), audit, clock: later });
      const tables = ["certificates", "issuances", "residents", "resident_history", "ocsp_access_log", "crl_access_log", "relying_party_provisions", "consents", "resident_events", "audit_checkpoints"];
      const dump = async () => Object.fromEntries(await Promise.all(tables.map(async (n) => [n, JSON.stringify(await k(n).orderBy(k.raw("1")))] as const)));
      const before = await dump();
      const auditBefore = await k("audit_log").orderBy("seq");

      const dry = await retention.run("cli", { dryRun: true });
      assert.deepEqual(Object.fromEntries(dry.tasks.map((x) => [x.name, x.eligible])), {
        "audit-log": auditBefore.length,
        "superseded-resident-records": 1,
        "relying-party-access-records": 1,
        "relying-party-crl-reads": 1,
        "relying-party-provisions": 1,
        "withdrawn-consents": 1,
        "certificate-personal-fields": 1,
      });
      assert.deepEqual(await dump(), before, "a dry run changes no data");
      const auditAfter = await k("audit_log").orderBy("seq");
      assert.deepEqual(auditAfter.slice(0, auditBefore.length), auditBefore);
      assert.deepEqual(auditAfter.slice(auditBefore.length).map((e: { action: string }) => e.action), ["retention.dry-run"], "only the dry run itself is recorded");

      const done = await retention.run("cli", { dryRun: false });
      assert.deepEqual(Object.fromEntries(done.tasks.map((x) => [x.name, x.purged])), {
        "audit-log": auditBefore.length, // the dry run's own entry is recent
        "superseded-resident-records": 1,
        "relying-party-access-records": 1,
        "relying-party-crl-reads": 1,
        "relying-party-provisions": 1,
        "withdrawn-consents": 1,
        "certificate-personal-fields": 1,
      });
      const stripped = await k("certificates").where({ serial: serial(1) }).first();
      assert.equal(stripped.resident_code, null);
      assert.equal(stripped.der, null);
      assert.ok(stripped.personal_data_purged_at);
      assert.ok(!JSON.stringify(stripped.recorded).includes("山田"));
      assert.equal(stripped.recorded.municipalityCode, "131041");
      assert.equal(stripped.status, "revoked");
      assert.equal((await k("issuances").where({ issuance_id: "iss-00001" }).first()).response, null);
      assert.notEqual((await k("issuances").where({ issuance_id: "iss-00003" }).first()).response, null);
      assert.ok((await k("certificates").where({ serial: serial(2) }).first()).der, "not yet due");
      assert.equal(Number((await k("resident_history").count({ n: "*" }).first())!.n), 1);
      assert.deepEqual((await k("ocsp_access_log").orderBy("at")).map((r: { party: string }) => r.party), ["kiosk-2", "bank-1"]);
      assert.deepEqual((await k("crl_access_log")).map((r: { party: string }) => r.party), ["kiosk-2"]);
      assert.deepEqual((await k("relying_party_provisions")).map((r: { at: Date }) => new Date(r.at).toISOString()), ["2039-01-01T00:00:00.000Z"]);
      assert.deepEqual((await k("consents")).map((r: { withdrawn_at: Date | null }) => r.withdrawn_at), [null], "the open consent stays");
      const v = await verifier.verify();
      assert.equal(v.ok, true, JSON.stringify(v.findings));
      assert.equal(v.anchor.kind, "checkpoint");
    });
  });
}
