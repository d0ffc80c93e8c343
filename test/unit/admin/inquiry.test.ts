import assert from "node:assert/strict";
import { CaError, type CaErrorKind } from "../../../ca/errors.js";
import { CertificateInquiry, MAX_INQUIRY_RESULTS, parseInquiry, type InquirySource } from "../../../ca/records/inquiry.js";
import type { OperatorPrincipal } from "../../../ca/operators/operator-principal.js";
import { FixedClock } from "../../../ca/ports.js";
import type { CertificateRecord } from "../../../ca/types.js";
import { MemoryAuditStore, MemoryDatabase } from "../../support/memory-stores.js";

const P = "窓口での本人確認";
const throwsWith = (kind: CaErrorKind, field?: string) => (e: unknown) => {
  assert.ok(e instanceof CaError, String(e));
  assert.equal(e.kind, kind, e.message);
  if (field !== undefined) assert.equal(e.field, field, e.message);
  return true;
};

const cert = (i: number, residentCode = "12345678901"): CertificateRecord => ({
  serial: (0x4000 + i).toString(16).padStart(32, "0"),
  caId: "sign-g1",
  kind: "sign",
  device: "card",
  status: "valid",
  notBefore: new Date("2026-01-01T00:00:00Z"),
  notAfter: new Date("2031-02-17T14:59:59Z"),
  partition: 0,
  der: null,
  tbs: null,
  publicKeySha256: "00",
  subjectId: "x",
  residentCode,
  issuanceId: `iss-${i}`,
  recorded: { municipalityCode: "131041", applicationDate: "2026-01-01", resident: { name: "山田　太郎" } },
  revokedAt: null,
  revocationReason: null,
  invalidityDate: null,
  createdAt: new Date("2026-01-01T00:00:00Z"),
});

describe("ca/inquiry (limited inquiries, 告示334号 第4-4(7))", () => {
  describe("parseInquiry", () => {
    it("accepts the three exact searches, each with a purpose", () => {
      assert.deepEqual(parseInquiry({ serial: "4ABC01", purpose: P }).conditions, { by: "serial", serial: "4abc01" });
      assert.deepEqual(parseInquiry({ residentCode: "12345678901", purpose: P }).conditions, { by: "residentCode", residentCode: "12345678901" });
      assert.deepEqual(parseInquiry({ name: "山田　太郎", dateOfBirth: "1980-02-17", purpose: P }).conditions, { by: "nameAndDateOfBirth", name: "山田　太郎", dateOfBirth: "1980-02-17" });
    });

    it("refuses an inquiry without a purpose", () => {
      assert.throws(() => parseInquiry({ serial: "4abc01" }), throwsWith("invalid-input", "purpose"));
      assert.throws(() => parseInquiry({ serial: "4abc01", purpose: "  " }), throwsWith("invalid-input", "purpose"));
    });

    it("refuses wildcards and patterns, half- and full-width", () => {
      for (const [k, v] of [
        ["serial", "4abc*"],
        ["serial", "4abc%"],
        ["residentCode", "1234567890_"],
        ["name", "山田＊"],
        ["name", "山田％"],
        ["name", "山田?"],
        ["name", "山田[太]郎"],
      ] as const) {
        const q: Record<string, string> = { [k]: v, purpose: P };
        if (k === "name") q.dateOfBirth = "1980-02-17";
        assert.throws(() => parseInquiry(q), throwsWith("invalid-input", k), `${k}=${v}`);
      }
    });

    it("refuses listing and over-broad inquiries: nothing, partial keys, extra parameters, mixed searches", () => {
      assert.throws(() => parseInquiry({ purpose: P }), throwsWith("invalid-input"));
      assert.throws(() => parseInquiry({ name: "山田　太郎", purpose: P }), throwsWith("invalid-input", "dateOfBirth"));
      assert.throws(() => parseInquiry({ dateOfBirth: "1980-02-17", purpose: P }), throwsWith("invalid-input", "name"));
      assert.throws(() => parseInquiry({ residentCode: "1234", purpose: P }), throwsWith("invalid-input", "residentCode"));
      assert.throws(() => parseInquiry({ serial: "4abc01", limit: "1000", purpose: P }), throwsWith("invalid-input", "limit"));
      assert.throws(() => parseInquiry({ municipalityCode: "131041", purpose: P }), throwsWith("invalid-input", "municipalityCode"));
      assert.throws(() => parseInquiry({ serial: "4abc01", residentCode: "12345678901", purpose: P }), throwsWith("invalid-input"));
      assert.throws(() => parseInquiry({ serial: ["4abc01", "4abc02"], purpose: P }), throwsWith("invalid-input", "serial"));
      assert.throws(() => parseInquiry({ serial: "", purpose: P }), throwsWith("invalid-input", "serial"));
      assert.throws(() => parseInquiry({ name: "山田　太郎", dateOfBirth: "1980-02-30", purpose: P }), throwsWith("invalid-input", "dateOfBirth"));
    });
  });

  describe("CertificateInquiry", () => {
    let audit: MemoryAuditStore;
    let rows: CertificateRecord[];
    let inquiry: CertificateInquiry;
    const auditor: OperatorPrincipal = { operatorId: "kansa", roles: ["auditor"], mustChangePassword: false, sessionTokenHash: "0", terminalFingerprint: "0", expiresAt: new Date() };
    beforeEach(() => {
      audit = new MemoryAuditStore(new MemoryDatabase());
      rows = [cert(1), cert(2)];
      const source: InquirySource = {
        bySerial: async (s) => rows.find((r) => r.serial === s),
        byResidentCode: async (code, limit) => rows.filter((r) => r.residentCode === code).slice(0, limit),
        byNameAndDateOfBirth: async (_n, _d, limit) => rows.slice(0, limit),
      };
      inquiry = new CertificateInquiry({ source, audit, clock: new FixedClock(new Date("2026-11-24T01:00:00Z")) });
    });

    it("answers status and dates without personal fields, and audits who, when, conditions, purpose and count", async () => {
      const found = await inquiry.search(auditor, parseInquiry({ residentCode: "12345678901", purpose: P }));
      assert.equal(found.length, 2);
      assert.equal(found[0]!.municipalityCode, "131041");
      assert.ok(!JSON.stringify(found).includes("山田"));
      const [e] = await audit.range(1, 10);
      assert.equal(e!.action, "inquiry.certificates");
      assert.equal(e!.actor, "operator:kansa");
      assert.equal(e!.outcome, "success");
      assert.equal(e!.at.toISOString(), "2026-11-24T01:00:00.000Z");
      assert.deepEqual(e!.detail, { conditions: { by: "residentCode", residentCode: "12345678901" }, purpose: P, resultCount: 2 });
    });

    it(`refuses (and audits) an answer of more than ${MAX_INQUIRY_RESULTS} certificates instead of truncating it`, async () => {
      rows = Array.from({ length: MAX_INQUIRY_RESULTS + 5 }, (_, i) => cert(i));
      await assert.rejects(inquiry.search(auditor, parseInquiry({ name: "山田　太郎", dateOfBirth: "1980-02-17", purpose: P })), throwsWith("unprocessable"));
      const [e] = await audit.range(1, 10);
      assert.equal(e!.outcome, "denied");
      assert.equal(e!.detail.reason, "over-broad");
      assert.equal(e!.detail.resultCount, `>${MAX_INQUIRY_RESULTS}`);
      rows = rows.slice(0, MAX_INQUIRY_RESULTS);
      assert.equal((await inquiry.search(auditor, parseInquiry({ name: "山田　太郎", dateOfBirth: "1980-02-17", purpose: P }))).length, MAX_INQUIRY_RESULTS);
    });

    it("audits refused conditions with the parameter names only", async () => {
      const err = new CaError("invalid-input", "x", { field: "name" });
      await assert.rejects(inquiry.refused(auditor, ["name", "purpose"], err), (e) => e === err);
      const [e] = await audit.range(1, 10);
      assert.equal(e!.outcome, "denied");
      assert.deepEqual(e!.detail, { reason: "invalid-conditions", parameters: ["name", "purpose"], field: "name" });
    });
  });
});
