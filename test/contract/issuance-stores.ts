import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { CaError } from "../../ca/errors.js";
import { IdempotencyKeyInUseError, PublicKeyRefusedError, type IssuanceRecord, type IssuanceStore, type RefusedKeyRule, type ResidentRecord, type ResidentStore } from "../../ca/issuance/issuance-ports.js";
import type { OutboxReader } from "../../ca/revocation/outbox.js";
import type { CaGenerationStore, CertificateStore, NewPendingCertificate, TransactionRunner } from "../../ca/stores.js";
import type { CaGeneration, CaKind } from "../../ca/types.js";
import { fakeCaGeneration } from "../support/ca-generation-fixture.js";

/**
 * Contract suite for the issuance ports' one-statement writes (ca/issuance/issuance-ports.ts, issue #3):
 * IssuanceStore.insertWithCertificates / completeWithCertificates and ResidentStore.lockOrInsert.
 * Run against PGlite and PostgreSQL (test/integration/db/*-stores.test.ts); there is no memory double
 * of these ports. Tests use their own residents, serials and idempotency keys.
 */
export interface IssuanceStoreFixture {
  readonly transactions: TransactionRunner;
  readonly caGenerations: CaGenerationStore;
  readonly certificates: CertificateStore;
  readonly issuances: IssuanceStore;
  readonly residents: ResidentStore;
  readonly outbox: OutboxReader;
  close(): Promise<void>;
}

const isCaError = (kind: CaError["kind"], message?: RegExp) => (err: unknown) =>
  err instanceof CaError && err.kind === kind && (message === undefined || message.test(err.message));
const hex = (n: number): string => randomBytes(n).toString("hex");
const T0 = new Date("2026-11-22T05:00:00.000Z");

export function issuanceStoresContract(name: string, open: () => Promise<IssuanceStoreFixture>): void {
  describe(`${name}: issuance store contract`, function () {
    this.timeout(120_000);
    let fx: IssuanceStoreFixture;
    const gens = {} as Record<CaKind, CaGeneration>;
    let consumer = 0;

    const generation = (kind: CaKind, g: number): CaGeneration => fakeCaGeneration(kind, g, T0);
    const issuance = (overrides: Partial<IssuanceRecord> = {}): IssuanceRecord => ({
      issuanceId: hex(16),
      terminalId: "terminal-1",
      idempotencyKey: hex(8),
      requestSha256: hex(32),
      operatorId: "operator-1",
      municipalityCode: "131016",
      applicationDate: "2026-11-22",
      residentCode: hex(6),
      status: "pending",
      response: null,
      createdAt: T0,
      completedAt: null,
      ...overrides,
    });
    const pending = (kind: CaKind, overrides: Partial<NewPendingCertificate> = {}): NewPendingCertificate => ({
      serial: `0${gens[kind].serialPrefix}${hex(9)}`,
      caId: gens[kind].id,
      kind,
      notBefore: T0,
      notAfter: new Date("2031-11-21T14:59:59Z"),
      partition: 1,
      tbs: Uint8Array.from([0x30, 0x00]),
      publicKeySha256: hex(32),
      subjectId: hex(8),
      residentCode: null,
      issuanceId: null,
      recorded: { answer: { kind } },
      createdAt: T0,
      ...overrides,
    });
    const resident = (overrides: Partial<ResidentRecord> = {}): ResidentRecord => ({
      residentCode: hex(6),
      name: "試験　太郎",
      nameSubstituteFlags: "0000",
      alias: null,
      aliasSubstituteFlags: null,
      dateOfBirth: "1990-01-02",
      gender: 1,
      address: "東京都千代田区",
      addressSubstituteFlags: "0000000",
      updatedAt: T0,
      ...overrides,
    });
    /** An issuance of `kinds` for a resident, reserved (step 1). */
    const reserve = async (residentCode: string, kinds: readonly CaKind[], createdAt = T0) => {
      const record = issuance({ residentCode });
      const certs = kinds.map((k) => pending(k, { residentCode, issuanceId: record.issuanceId, createdAt }));
      await fx.issuances.insertWithCertificates(record, certs);
      return { record, certs };
    };
    const signedOf = (certs: readonly NewPendingCertificate[]) => certs.map((c, i) => ({ serial: c.serial, der: Uint8Array.from([0x30, i, 0xff]) }));
    /** Outbox rows written since `after` (a fresh consumer reads everything), for these serials. */
    const outboxFor = async (serials: readonly string[]) => {
      const rows = await fx.outbox.readAfterCursor(`contract-${consumer++}-${hex(4)}`, 1_000_000);
      return rows.filter((m) => serials.includes(String(m.payload.serial))).map((m) => ({ topic: m.topic, payload: m.payload }));
    };

    before(async () => {
      fx = await open();
      gens.auth = generation("auth", 61);
      gens.sign = generation("sign", 62);
      await fx.caGenerations.insert(gens.auth);
      await fx.caGenerations.insert(gens.sign);
    });
    after(async () => {
      await fx?.close();
    });

    describe("IssuanceStore.insertWithCertificates", () => {
      it("records the issuance and every certificate as pending, in one write", async () => {
        const { record, certs } = await reserve(hex(6), ["auth", "sign"]);
        assert.deepEqual(await fx.issuances.get(record.issuanceId), record);
        assert.deepEqual(await fx.issuances.findByKey(record.terminalId, record.idempotencyKey), record);
        const rows = await fx.certificates.listByIssuance(record.issuanceId);
        assert.deepEqual(rows.map((r) => r.serial), certs.map((c) => c.serial).sort());
        assert.ok(rows.every((r) => r.status === "pending" && r.der === null && r.tbs !== null && r.residentCode === record.residentCode));
      });

      it("writes nothing on an idempotency-key clash, and says so (the service replays on it)", async () => {
        const first = await reserve(hex(6), ["auth"]);
        const again = issuance({ idempotencyKey: first.record.idempotencyKey });
        const cert = pending("auth", { issuanceId: again.issuanceId });
        await assert.rejects(fx.issuances.insertWithCertificates(again, [cert]), isCaError("conflict", /idempotency/i));
        // Typed: the service recognises the race it lost by the class, never by the message.
        await assert.rejects(fx.issuances.insertWithCertificates(again, [cert]), IdempotencyKeyInUseError);
        assert.equal(await fx.issuances.get(again.issuanceId), undefined);
        assert.equal(await fx.certificates.get(cert.serial), undefined);
      });

      it("writes nothing on a serial clash (conflict) or an unknown CA generation (not-found)", async () => {
        const first = await reserve(hex(6), ["auth"]);
        const clash = issuance();
        await assert.rejects(
          fx.issuances.insertWithCertificates(clash, [pending("sign", { issuanceId: clash.issuanceId }), { ...pending("auth"), serial: first.certs[0]!.serial }]),
          isCaError("conflict", /serial/),
        );
        assert.equal(await fx.issuances.get(clash.issuanceId), undefined);
        const orphan = issuance();
        await assert.rejects(fx.issuances.insertWithCertificates(orphan, [pending("auth", { caId: "auth-g997" })]), isCaError("not-found"));
        assert.equal(await fx.issuances.get(orphan.issuanceId), undefined);
      });

      it("rolls back with the caller's transaction", async () => {
        const record = issuance();
        const cert = pending("auth", { issuanceId: record.issuanceId });
        await assert.rejects(
          fx.transactions.transaction(async (tx) => {
            await fx.issuances.insertWithCertificates(record, [cert], tx);
            throw new Error("boom");
          }),
          /boom/,
        );
        assert.equal(await fx.issuances.get(record.issuanceId), undefined);
        assert.equal(await fx.certificates.get(cert.serial), undefined);
      });
    });

    describe("IssuanceStore.insertWithCertificates: keys certified once (migration 0019)", () => {
      const refused = (rule: RefusedKeyRule, key: string) => (e: unknown) =>
        e instanceof PublicKeyRefusedError && e.kind === "conflict" && e.rule === rule && e.publicKeySha256 === key && e.field === undefined;

      it("refuses, writing nothing, a key whose certificate was revoked for keyCompromise, for both kinds", async () => {
        const first = await reserve(hex(6), ["auth", "sign"]);
        await fx.issuances.completeWithCertificates(first.record.issuanceId, signedOf(first.certs), {}, T0);
        const compromised = first.certs[1]!; // the signing key
        assert.equal(await fx.certificates.revoke(compromised.serial, { status: "revoked", reason: "keyCompromise", revokedAt: T0, invalidityDate: null }), true);
        for (const kind of ["sign", "auth"] as const) {
          const record = issuance({ residentCode: first.record.residentCode });
          const cert = pending(kind, { publicKeySha256: compromised.publicKeySha256, residentCode: record.residentCode, issuanceId: record.issuanceId });
          const other = pending(kind === "sign" ? "auth" : "sign", { residentCode: record.residentCode, issuanceId: record.issuanceId });
          await assert.rejects(fx.issuances.insertWithCertificates(record, [other, cert]), refused("blocked", compromised.publicKeySha256));
          assert.equal(await fx.issuances.get(record.issuanceId), undefined, "no issuance row");
          assert.equal(await fx.certificates.get(other.serial), undefined, "no certificate row");
        }
      });

      it("refuses a key of a certificate superseded by a renewal, for either kind; a failed issuance's key may come back", async () => {
        const code = hex(6);
        const older = await reserve(code, ["auth", "sign"], new Date(T0.getTime() - 1000));
        await fx.issuances.completeWithCertificates(older.record.issuanceId, signedOf(older.certs), {}, T0);
        const renewal = await reserve(code, ["auth", "sign"]);
        await fx.issuances.completeWithCertificates(renewal.record.issuanceId, signedOf(renewal.certs), {}, T0); // supersedes `older`
        for (const old of older.certs) {
          for (const kind of ["sign", "auth"] as const) {
            const record = issuance({ residentCode: code });
            await assert.rejects(
              fx.issuances.insertWithCertificates(record, [pending(kind, { publicKeySha256: old.publicKeySha256, residentCode: code, issuanceId: record.issuanceId })]),
              refused("certified-before", old.publicKeySha256),
            );
          }
        }
        const failed = await reserve(hex(6), ["auth"]);
        await fx.issuances.fail(failed.record.issuanceId, T0);
        await fx.certificates.markFailed(failed.certs[0]!.serial);
        const retry = issuance({ residentCode: failed.record.residentCode });
        await fx.issuances.insertWithCertificates(retry, [pending("auth", { publicKeySha256: failed.certs[0]!.publicKeySha256, residentCode: retry.residentCode, issuanceId: retry.issuanceId })]);
      });
    });

    describe("IssuanceStore.completeWithCertificates", () => {
      it("stores the DERs, supersedes the resident's other valid/held certificates of the kinds issued, writes the outbox, completes", async () => {
        const code = hex(6);
        const older = await reserve(code, ["auth", "sign"], new Date(T0.getTime() - 2000));
        await fx.issuances.completeWithCertificates(older.record.issuanceId, signedOf(older.certs), { old: true }, T0);
        const [oldAuth, oldSign] = older.certs as [NewPendingCertificate, NewPendingCertificate];
        assert.equal(await fx.certificates.revoke(oldSign.serial, { status: "hold", reason: "certificateHold", revokedAt: T0, invalidityDate: null }), true);
        const stillPending = await reserve(code, ["auth"], new Date(T0.getTime() - 1000)); // another issuance, not signed yet
        const otherResident = await reserve(hex(6), ["auth"]);
        await fx.issuances.completeWithCertificates(otherResident.record.issuanceId, signedOf(otherResident.certs), {}, T0);

        const current = await reserve(code, ["auth", "sign"]);
        const [auth, sign] = current.certs as [NewPendingCertificate, NewPendingCertificate];
        assert.equal(await fx.certificates.revoke(sign.serial, { status: "revoked", reason: "keyCompromise", revokedAt: T0, invalidityDate: null }), true);
        const at = new Date("2026-11-23T01:02:03Z");
        const response = { issuanceId: current.record.issuanceId, certificates: [{ serialNumber: auth.serial }] };
        const done = await fx.transactions.transaction((tx) => fx.issuances.completeWithCertificates(current.record.issuanceId, signedOf(current.certs), response, at, tx));

        assert.ok(done);
        assert.deepEqual(done.issuance, { ...current.record, status: "completed", response, completedAt: at });
        assert.deepEqual(done.superseded, [oldAuth.serial, oldSign.serial].sort()); // same created_at: serial order
        assert.deepEqual(await fx.issuances.get(current.record.issuanceId), done.issuance);
        const a = await fx.certificates.get(auth.serial);
        assert.equal(a?.status, "valid");
        assert.deepEqual([...(a?.der ?? [])], [0x30, 0, 0xff]);
        const s = await fx.certificates.get(sign.serial);
        assert.equal(s?.status, "revoked", "revoked while pending: keeps its status, gets its DER");
        assert.deepEqual([...(s?.der ?? [])], [0x30, 1, 0xff]);
        for (const old of [oldAuth, oldSign]) {
          const got = await fx.certificates.get(old.serial);
          assert.equal(got?.status, "revoked");
          assert.equal(got?.revocationReason, "superseded");
          assert.deepEqual(got?.revokedAt, at);
          assert.equal(got?.invalidityDate, null);
        }
        assert.equal((await fx.certificates.get(stillPending.certs[0]!.serial))?.status, "pending");
        assert.equal((await fx.certificates.get(otherResident.certs[0]!.serial))?.status, "valid");

        const outbox = await outboxFor([auth.serial, sign.serial, oldAuth.serial, oldSign.serial]);
        const issued = [auth, sign].sort((x, y) => (x.serial < y.serial ? -1 : 1));
        const superseded = [oldAuth, oldSign].sort((x, y) => (x.serial < y.serial ? -1 : 1));
        assert.deepEqual(outbox.slice(-4), [
          ...issued.map((c) => ({ topic: "certificate.issued", payload: { serial: c.serial, caId: c.caId, partition: c.partition } })),
          ...superseded.map((c) => ({ topic: "certificate.revoked", payload: { serial: c.serial, caId: c.caId, partition: c.partition, reason: "superseded" } })),
        ]);
      });

      it("supersedes only the kinds issued", async () => {
        const code = hex(6);
        const older = await reserve(code, ["auth", "sign"], new Date(T0.getTime() - 1000));
        await fx.issuances.completeWithCertificates(older.record.issuanceId, signedOf(older.certs), {}, T0);
        const authOnly = await reserve(code, ["auth"]);
        const done = await fx.issuances.completeWithCertificates(authOnly.record.issuanceId, signedOf(authOnly.certs), {}, T0);
        assert.deepEqual(done?.superseded, [older.certs[0]!.serial]);
        assert.equal((await fx.certificates.get(older.certs[1]!.serial))?.status, "valid");
      });

      it("writes nothing and answers undefined when the issuance is not pending (completed, failed or unknown)", async () => {
        const code = hex(6);
        const first = await reserve(code, ["auth"]);
        assert.ok(await fx.issuances.completeWithCertificates(first.record.issuanceId, signedOf(first.certs), { n: 1 }, T0));
        const second = await reserve(code, ["auth"]);
        await fx.issuances.fail(second.record.issuanceId, T0);
        assert.equal(await fx.issuances.completeWithCertificates(second.record.issuanceId, signedOf(second.certs), {}, T0), undefined);
        assert.equal((await fx.certificates.get(second.certs[0]!.serial))?.status, "pending");
        assert.equal((await fx.certificates.get(first.certs[0]!.serial))?.status, "valid", "not superseded by a failed issuance");
        assert.equal(await fx.issuances.completeWithCertificates(first.record.issuanceId, signedOf(first.certs), { n: 2 }, T0), undefined);
        assert.deepEqual((await fx.issuances.get(first.record.issuanceId))?.response, { n: 1 });
        assert.equal(await fx.issuances.completeWithCertificates(hex(16), signedOf(first.certs), {}, T0), undefined);
        assert.deepEqual(await outboxFor([second.certs[0]!.serial]), []);
      });

      it("refuses a certificate that is not awaiting its DER (conflict) and leaves everything as it was", async () => {
        const code = hex(6);
        const older = await reserve(code, ["auth"], new Date(T0.getTime() - 1000));
        await fx.issuances.completeWithCertificates(older.record.issuanceId, signedOf(older.certs), {}, T0);
        const current = await reserve(code, ["auth", "sign"]);
        await fx.certificates.markFailed(current.certs[1]!.serial);
        await assert.rejects(fx.issuances.completeWithCertificates(current.record.issuanceId, signedOf(current.certs), {}, T0), isCaError("conflict"));
        const foreign = [...signedOf(current.certs.slice(0, 1)), { serial: older.certs[0]!.serial, der: Uint8Array.from([1]) }];
        await assert.rejects(
          fx.transactions.transaction((tx) => fx.issuances.completeWithCertificates(current.record.issuanceId, foreign, {}, T0, tx)),
          isCaError("conflict"),
        );
        assert.equal((await fx.issuances.get(current.record.issuanceId))?.status, "pending");
        assert.equal((await fx.certificates.get(current.certs[0]!.serial))?.status, "pending");
        assert.equal((await fx.certificates.get(older.certs[0]!.serial))?.status, "valid");
        assert.deepEqual(await outboxFor([current.certs[0]!.serial]), []);
      });
    });

    describe("ResidentStore.lockOrInsert", () => {
      it("inserts the first time, then returns the record on file (not the candidate)", async () => {
        const r = resident();
        const first = await fx.residents.lockOrInsert(r);
        assert.equal(first.inserted, true);
        assert.deepEqual({ ...first.record, status: undefined }, { ...r, status: undefined });
        assert.ok(first.record.status === undefined || first.record.status === "registered");
        const other = { ...r, name: "別名　花子", updatedAt: new Date(T0.getTime() + 5000) };
        const again = await fx.transactions.transaction((tx) => fx.residents.lockOrInsert(other, tx));
        assert.equal(again.inserted, false);
        assert.deepEqual({ ...again.record, status: undefined }, { ...r, status: undefined });
        assert.deepEqual(await fx.residents.getForUpdate(r.residentCode), again.record);
      });

      it("holds the record locked until commit: a second transaction waits, then sees it on file", async () => {
        const r = resident();
        let releaseFirst!: () => void;
        const firstHolds = new Promise<void>((resolve) => (releaseFirst = resolve));
        let firstIn!: () => void;
        const firstLocked = new Promise<void>((resolve) => (firstIn = resolve));
        const order: string[] = [];
        const first = fx.transactions.transaction(async (tx) => {
          const got = await fx.residents.lockOrInsert(r, tx);
          firstIn();
          await firstHolds;
          order.push("first commits");
          return got;
        });
        await firstLocked;
        const second = fx.transactions.transaction(async (tx) => {
          const got = await fx.residents.lockOrInsert({ ...r, name: "別名　花子" }, tx);
          order.push("second locked");
          return got;
        });
        await new Promise((resolve) => setTimeout(resolve, 100));
        releaseFirst();
        const [a, b] = await Promise.all([first, second]);
        assert.deepEqual(order, ["first commits", "second locked"]);
        assert.equal(a.inserted, true);
        assert.equal(b.inserted, false);
        assert.equal(b.record.name, r.name);
      });
    });
  });
}
