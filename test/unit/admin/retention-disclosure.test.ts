import assert from "node:assert/strict";
import { csvCell, csvLine } from "../../../ca/records/csv.js";
import { disclosureCsv, DisclosureService } from "../../../ca/records/disclosure.js";
import { CaError } from "../../../ca/errors.js";
import { FixedClock } from "../../../ca/ports.js";
import { parseRetentionPeriods, RetentionService, yearsBefore, type RetentionTask } from "../../../ca/records/retention.js";
import type { CertificateRecord } from "../../../ca/types.js";
import { MemoryAuditStore, MemoryDatabase } from "../../support/memory-stores.js";

const NOW = new Date("2033-06-01T00:00:00Z");

describe("ca/retention", () => {
  let calls: string[];
  const task = (name: string, eligible: number): RetentionTask => ({
    name,
    rule: `${name} rule`,
    plan: async (now) => {
      calls.push(`plan ${name}`);
      return { available: true, cutoff: yearsBefore(now, 5), eligible };
    },
    apply: async () => {
      calls.push(`apply ${name}`);
      return { purged: eligible };
    },
  });
  let audit: MemoryAuditStore;
  let service: RetentionService;
  beforeEach(() => {
    calls = [];
    audit = new MemoryAuditStore(new MemoryDatabase());
    service = new RetentionService({ tasks: [task("a", 3), task("b", 0)], audit, clock: new FixedClock(NOW) });
  });

  it("dry run only plans, and is audited", async () => {
    const r = await service.run("cli", { dryRun: true });
    assert.deepEqual(calls, ["plan a", "plan b"]);
    assert.deepEqual(r.tasks.map((t) => [t.name, t.eligible, t.purged]), [["a", 3, null], ["b", 0, null]]);
    assert.equal(r.tasks[0]!.cutoff, "2028-06-01T00:00:00.000Z");
    const [e] = await audit.range(1, 10);
    assert.equal(e!.action, "retention.dry-run");
  });

  it("purges from the CLI; an operator's purge must go through approval", async () => {
    const op = { operatorId: "adm", roles: ["ca-admin" as const], mustChangePassword: false, sessionTokenHash: "0", terminalFingerprint: "0", expiresAt: NOW };
    await assert.rejects(service.run(op, { dryRun: false }), (e) => e instanceof CaError && e.kind === "forbidden");
    const r = await service.run("cli", { dryRun: false });
    assert.deepEqual(calls, ["plan a", "apply a", "plan b"]);
    assert.deepEqual(r.tasks.map((t) => t.purged), [3, 0]);
    assert.equal((await audit.range(1, 10))[0]!.action, "retention.purged");
    await assert.rejects(service.run("cli", { dryRun: true, only: ["zzz"] }), (e) => e instanceof CaError && e.field === "tasks");
  });

  it("validates configured periods", () => {
    assert.equal(parseRetentionPeriods({ relyingPartyAccessDays: 30 }).relyingPartyAccessDays, 30);
    assert.equal(parseRetentionPeriods().auditLogYears, 7);
    assert.throws(() => parseRetentionPeriods({ auditLogYears: 0 }), (e) => e instanceof CaError && e.field === "retention.auditLogYears");
  });
});

describe("ca/csv and ca/disclosure", () => {
  it("quotes CSV per RFC 4180 and defuses spreadsheet formulas", () => {
    assert.equal(csvLine(["a", 1, null, "x,y", 'say "hi"']), 'a,1,,"x,y","say ""hi"""\r\n');
    assert.equal(csvCell("=SUM(A1)"), "'=SUM(A1)");
    assert.equal(csvCell("-1"), "'-1");
    assert.equal(csvCell(-1), "-1");
  });

  it("reports certificates issued and revoked plus every source, as JSON and CSV, and audits the report", async () => {
    const audit = new MemoryAuditStore(new MemoryDatabase());
    const cert = (serial: string, revoked: boolean): CertificateRecord => ({
      serial,
      caId: "sign-g1",
      kind: "sign",
      device: "card",
      status: revoked ? "revoked" : "valid",
      notBefore: new Date("2026-01-01T00:00:00Z"),
      notAfter: new Date("2031-01-01T00:00:00Z"),
      partition: 0,
      der: null,
      tbs: null,
      publicKeySha256: "0",
      subjectId: "s",
      residentCode: "12345678901",
      issuanceId: null,
      recorded: {},
      revokedAt: revoked ? new Date("2026-04-01T00:00:00Z") : null,
      revocationReason: revoked ? "affiliationChanged" : null,
      invalidityDate: null,
      createdAt: new Date("2026-01-01T00:00:00Z"),
    });
    const service = new DisclosureService({
      certificates: { byResidentCode: async () => [cert("40aa", true), cert("40bb", false)] },
      sources: [
        { name: "relying-party-access", collect: async (_r, serials) => ({ name: "relying-party-access", available: true, items: serials.map((s) => ({ at: new Date("2026-02-01T00:00:00Z"), category: "relying-party-access", serial: s, party: "bank-1", detail: { channel: "ocsp" } })) }) },
        { name: "resident-events", collect: async () => ({ name: "resident-events", available: false, items: [] }) },
      ],
      audit,
      clock: new FixedClock(NOW),
    });
    await assert.rejects(service.report("cli", "1234"), (e) => e instanceof CaError && e.field === "residentCode");
    const r = await service.report("cli", "12345678901");
    assert.deepEqual(r.sections.map((s) => [s.name, s.available, s.items.length]), [["certificates", true, 3], ["relying-party-access", true, 2], ["resident-events", false, 0]]);
    const csv = disclosureCsv(r);
    assert.match(csv, /^section,at,category,serial,party,detail\r\n/);
    assert.match(csv, /certificates,2026-04-01T00:00:00.000Z,certificate-revoked,40aa,,reason=affiliationChanged\r\n/);
    assert.match(csv, /relying-party-access,2026-02-01T00:00:00.000Z,relying-party-access,40bb,bank-1,channel=ocsp\r\n/);
    assert.match(csv, /resident-events,,source-unavailable,,,\r\n/);
    const [e] = await audit.range(1, 10);
    assert.equal(e!.action, "disclosure.report");
    assert.equal(e!.subject, "resident:12345678901");
  });
});
