import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { GENESIS_PREV_HASH, verifyChain } from "../../ca/audit/audit-chain.js";
import { CaError } from "../../ca/errors.js";
import type { AuditStore, CaGenerationStore, CertificateStore, NewPendingCertificate, TransactionRunner } from "../../ca/stores.js";
import type { AuditEntryInput, CaGeneration, CaId, CaKind } from "../../ca/types.js";
import { PUBLIC_KEY_IN_USE } from "../../ca/stores.js";
import { PublicKeyInUseError } from "../../ca/issuance/issuance-ports.js";
import { keyReuseCases } from "./key-reuse.js";
import { fakeCaGeneration } from "../support/ca-generation-fixture.js";

/**
 * Contract suite for the store ports (ca/stores.ts). Run against the memory doubles
 * (test/unit/db/memory-stores.test.ts), PGlite and PostgreSQL (test/integration/db/*).
 * One fixture per suite: tests use their own serials, keys, residents and time windows.
 */
export interface StoreFixture {
  readonly transactions: TransactionRunner;
  readonly caGenerations: CaGenerationStore;
  readonly certificates: CertificateStore;
  readonly audit: AuditStore;
  close(): Promise<void>;
}

const isCaError = (kind: CaError["kind"]) => (err: unknown) => err instanceof CaError && err.kind === kind;
const hex = (n: number): string => randomBytes(n).toString("hex");
const allBytes = (): Uint8Array => Uint8Array.from({ length: 256 }, (_, i) => i);
const bytesEqual = (a: Uint8Array | null, b: Uint8Array): void => {
  assert.ok(a instanceof Uint8Array, "expected bytes");
  assert.equal(Buffer.compare(Buffer.from(a), Buffer.from(b)), 0);
};
const T0 = new Date("2026-11-22T05:00:00.123Z");

export function storesContract(name: string, open: () => Promise<StoreFixture>): void {
  describe(`${name}: store contract`, function () {
    this.timeout(120_000); // PGlite takes seconds to start on a busy machine
    let fx: StoreFixture;
    let nextGeneration = 1;
    let sign: CaGeneration;

    const generation = (kind: CaKind, overrides: Partial<CaGeneration> = {}): CaGeneration => {
      return fakeCaGeneration(kind, nextGeneration++, T0, overrides);
    };
    const pending = (overrides: Partial<NewPendingCertificate> = {}): NewPendingCertificate => ({
      serial: `01${hex(9)}`,
      caId: sign.id,
      kind: "sign",
      notBefore: T0,
      notAfter: new Date("2031-11-21T14:59:59Z"),
      partition: 2,
      tbs: Uint8Array.from([0x30, 0x00]),
      publicKeySha256: hex(32),
      subjectId: hex(8),
      residentCode: null,
      issuanceId: null,
      recorded: { name: "試験 太郎" },
      createdAt: T0,
      ...overrides,
    });
    const entry = (overrides: Partial<AuditEntryInput> = {}): AuditEntryInput => ({
      at: T0,
      action: "certificate.issued",
      actor: "system",
      subject: null,
      outcome: "success",
      detail: {},
      ...overrides,
    });
    const revocation = { status: "revoked" as const, reason: "keyCompromise" as const, revokedAt: new Date("2026-12-01T00:00:00Z"), invalidityDate: null };

    before(async () => {
      fx = await open();
      sign = generation("sign");
      await fx.caGenerations.insert(sign);
    });
    after(async () => {
      await fx?.close();
    });

    describe("CaGenerationStore", () => {
      it("inserts, gets, lists and picks the newest active generation of a kind", async () => {
        const a = generation("auth");
        const b = generation("auth");
        await fx.caGenerations.insert(a);
        await fx.caGenerations.insert(b);
        assert.deepEqual(await fx.caGenerations.get(a.id), a);
        assert.equal(await fx.caGenerations.get("auth-g999"), undefined);
        assert.equal((await fx.caGenerations.active("auth"))?.id, b.id);
        await fx.caGenerations.setStatus(b.id, "retired");
        assert.equal((await fx.caGenerations.active("auth"))?.id, a.id);
        const ids = (await fx.caGenerations.list()).map((c) => c.id);
        assert.ok(ids.includes(a.id) && ids.includes(b.id) && ids.includes(sign.id));
      });

      it("refuses a duplicate id, serial prefix or kind+generation with conflict", async () => {
        const c = generation("sign");
        await fx.caGenerations.insert(c);
        await assert.rejects(fx.caGenerations.insert(c), isCaError("conflict"));
        await assert.rejects(fx.caGenerations.insert({ ...generation("sign"), serialPrefix: c.serialPrefix }), isCaError("conflict"));
        await assert.rejects(fx.caGenerations.insert({ ...generation("sign"), id: `sign-g${c.generation + 500}` as CaId, generation: c.generation }), isCaError("conflict"));
      });

      it("stores the OCSP responder certificate (bytea round trip) and reports unknown ids", async () => {
        await fx.caGenerations.setOcspResponder(sign.id, allBytes(), "pkcs11:token=test;object=ocsp-1");
        const got = await fx.caGenerations.get(sign.id);
        bytesEqual(got?.ocspResponderCertificate ?? null, allBytes());
        assert.equal(got?.ocspResponderKeyUri, "pkcs11:token=test;object=ocsp-1");
        await assert.rejects(fx.caGenerations.setStatus("sign-g998", "retired"), isCaError("not-found"));
        await assert.rejects(fx.caGenerations.setOcspResponder("sign-g998", allBytes(), "x"), isCaError("not-found"));
      });
    });

    describe("CertificateStore", () => {
      it("insertPending → get (pending) → completeIssued → get (valid), bytes and JSON round trip", async () => {
        const recorded = { name: "山田 花子", birth: "1990-01-02", nested: { z: [1, "二", null, true], a: 1.5 } };
        const p = pending({ tbs: allBytes(), residentCode: hex(6), issuanceId: hex(8), recorded });
        await fx.certificates.insertPending(p);
        const before = await fx.certificates.get(p.serial);
        assert.equal(before?.status, "pending");
        assert.equal(before?.der, null);
        bytesEqual(before?.tbs ?? null, allBytes());
        assert.deepEqual(before?.recorded, recorded);
        assert.deepEqual(
          { ...before, tbs: null },
          {
            serial: p.serial, caId: p.caId, kind: p.kind, device: "card", status: "pending", notBefore: p.notBefore, notAfter: p.notAfter,
            partition: p.partition, der: null, tbs: null, publicKeySha256: p.publicKeySha256, subjectId: p.subjectId,
            residentCode: p.residentCode, issuanceId: p.issuanceId, recorded, revokedAt: null, revocationReason: null,
            invalidityDate: null, createdAt: p.createdAt,
          },
        );
        const der = Uint8Array.from([...allBytes(), ...allBytes()].reverse());
        await fx.certificates.completeIssued(p.serial, der);
        const after = await fx.certificates.get(p.serial);
        assert.equal(after?.status, "valid");
        bytesEqual(after?.der ?? null, der);
        assert.equal(await fx.certificates.get(hex(10)), undefined);
      });

      it("refuses a duplicate serial with conflict and keeps the first row", async () => {
        const p = pending();
        await fx.certificates.insertPending(p);
        await assert.rejects(fx.certificates.insertPending({ ...pending(), serial: p.serial }), isCaError("conflict"));
        assert.equal((await fx.certificates.get(p.serial))?.publicKeySha256, p.publicKeySha256);
      });

      it("refuses a certificate of an unknown CA generation with not-found", async () => {
        await assert.rejects(fx.certificates.insertPending(pending({ caId: "sign-g997" })), isCaError("not-found"));
      });

      it("completeIssued and markFailed only move a pending row", async () => {
        const p = pending();
        await fx.certificates.insertPending(p);
        await fx.certificates.completeIssued(p.serial, Uint8Array.from([1]));
        await assert.rejects(fx.certificates.completeIssued(p.serial, Uint8Array.from([2])), isCaError("conflict"));
        await assert.rejects(fx.certificates.markFailed(p.serial), isCaError("conflict"));
        await assert.rejects(fx.certificates.completeIssued(hex(10), Uint8Array.from([1])), isCaError("not-found"));
        await assert.rejects(fx.certificates.markFailed(hex(10)), isCaError("not-found"));
        const f = pending();
        await fx.certificates.insertPending(f);
        await fx.certificates.markFailed(f.serial);
        assert.equal((await fx.certificates.get(f.serial))?.status, "failed");
        await assert.rejects(fx.certificates.completeIssued(f.serial, Uint8Array.from([1])), isCaError("conflict"));
      });

      it("a serial revoked while pending keeps its status when the certificate is stored", async () => {
        const p = pending();
        await fx.certificates.insertPending(p);
        assert.equal(await fx.certificates.revoke(p.serial, revocation), true);
        await fx.certificates.completeIssued(p.serial, Uint8Array.from([7]));
        const got = await fx.certificates.get(p.serial);
        assert.equal(got?.status, "revoked");
        bytesEqual(got?.der ?? null, Uint8Array.from([7]));
      });

      it("listPending returns pending rows older than `before`, oldest first, up to `limit`", async () => {
        const base = Date.parse("2001-02-03T00:00:00Z"); // a window no other test uses
        const rows = [3, 1, 2, 4].map((i) => pending({ createdAt: new Date(base + i * 1000) }));
        for (const r of rows) await fx.certificates.insertPending(r);
        await fx.certificates.completeIssued(rows[3]!.serial, Uint8Array.from([1])); // i=4: no longer pending
        const got = await fx.certificates.listPending(new Date(base + 3500), 10);
        assert.deepEqual(got.map((c) => c.createdAt.getTime()), [base + 1000, base + 2000, base + 3000]);
        assert.ok(got.every((c) => c.status === "pending"));
        const limited = await fx.certificates.listPending(new Date(base + 3500), 2);
        assert.deepEqual(limited.map((c) => c.serial), [rows[1]!.serial, rows[2]!.serial]);
        assert.deepEqual(await fx.certificates.listPending(new Date(base), 10), []);
      });

      it("findLiveByPublicKey and findLiveByResident return pending, valid and held certificates only", async () => {
        const resident = hex(6);
        const make = async (fate: "pending" | "valid" | "hold" | "revoked" | "failed", key = hex(32)) => {
          const p = pending({ publicKeySha256: key, residentCode: resident });
          await fx.certificates.insertPending(p);
          if (fate === "valid" || fate === "hold" || fate === "revoked") await fx.certificates.completeIssued(p.serial, Uint8Array.from([1]));
          if (fate === "hold") await fx.certificates.revoke(p.serial, { ...revocation, status: "hold", reason: "certificateHold" });
          if (fate === "revoked") await fx.certificates.revoke(p.serial, revocation);
          if (fate === "failed") await fx.certificates.markFailed(p.serial);
          return { serial: p.serial, key };
        };
        // A failed certificate with the key a valid one carries later, and a revoked one: not live, not returned.
        // (A key in a revoked certificate is never certified again, migration 0019.)
        const shared = hex(32);
        const revoked = await make("revoked");
        await make("failed", shared);
        const [onlyPending, valid, held] = [await make("pending"), await make("valid", shared), await make("hold")];
        assert.deepEqual((await fx.certificates.findLiveByPublicKey(shared)).map((c) => c.serial), [valid.serial]);
        assert.deepEqual(await fx.certificates.findLiveByPublicKey(revoked.key), []);
        assert.deepEqual((await fx.certificates.findLiveByPublicKey(onlyPending.key)).map((c) => c.serial), [onlyPending.serial]);
        assert.deepEqual((await fx.certificates.findLiveByPublicKey(held.key)).map((c) => c.serial), [held.serial]);
        assert.deepEqual((await fx.certificates.findLiveByResident(resident)).map((c) => c.serial).sort(), [onlyPending.serial, valid.serial, held.serial].sort());
        assert.deepEqual(await fx.certificates.findLiveByPublicKey(hex(32)), []);
      });

      it("refuses a second live certificate with one key (PUBLIC_KEY_IN_USE); failed ones do not count", async () => {
        const key = hex(32);
        const first = pending({ publicKeySha256: key });
        await fx.certificates.insertPending(first);
        const second = pending({ publicKeySha256: key });
        await assert.rejects(fx.certificates.insertPending(second), (e: unknown) => e instanceof CaError && e.kind === "conflict" && e.message === PUBLIC_KEY_IN_USE);
        // Typed: the issuance service names the request field on the class, never on the message.
        await assert.rejects(fx.certificates.insertPending(second), PublicKeyInUseError);
        assert.equal(await fx.certificates.get(second.serial), undefined, "nothing stored");
        await fx.certificates.completeIssued(first.serial, Uint8Array.from([1]));
        await assert.rejects(fx.certificates.insertPending(pending({ publicKeySha256: key })), (e: unknown) => e instanceof CaError && e.message === PUBLIC_KEY_IN_USE);
        const other = hex(32);
        const third = pending({ publicKeySha256: other });
        await fx.certificates.insertPending(third);
        await fx.certificates.markFailed(third.serial);
        await fx.certificates.insertPending(pending({ publicKeySha256: other }));
      });

      keyReuseCases({ fx: () => fx, sign: () => sign, generation, pending, revocation });

      it("findLiveByResidentOrKeys returns, in one read, the resident's live certificates and any live one carrying a key", async () => {
        const resident = hex(6);
        const [k1, k2] = [hex(32), hex(32)];
        const base = Date.parse("2002-03-04T00:00:00Z"); // a window no other test uses
        const at = (s: number): Date => new Date(base + s * 1000);
        const own = [pending({ residentCode: resident, createdAt: at(3) }), pending({ residentCode: resident, createdAt: at(1) })];
        const otherWithKey = pending({ residentCode: hex(6), publicKeySha256: k1, createdAt: at(2) });
        const ownWithKey = pending({ residentCode: resident, publicKeySha256: k2, createdAt: at(4) });
        const unrelated = pending({ residentCode: hex(6) });
        const k3 = hex(32);
        const revokedWithKey = pending({ residentCode: hex(6), publicKeySha256: k3 });
        const failedOwn = pending({ residentCode: resident });
        // A revoked certificate's key is not returned (it is never certified again: migration 0019).
        await fx.certificates.insertPending(revokedWithKey);
        await fx.certificates.revoke(revokedWithKey.serial, revocation);
        for (const p of [...own, otherWithKey, ownWithKey, unrelated, failedOwn]) await fx.certificates.insertPending(p);
        await fx.certificates.completeIssued(own[0]!.serial, Uint8Array.from([1]));
        await fx.certificates.markFailed(failedOwn.serial);
        const got = await fx.certificates.findLiveByResidentOrKeys(resident, [k1, k2, k3]);
        assert.deepEqual(got.map((c) => c.serial), [own[1]!.serial, otherWithKey.serial, own[0]!.serial, ownWithKey.serial]); // oldest first
        assert.equal(got.find((c) => c.serial === own[0]!.serial)?.status, "valid");
        assert.deepEqual((await fx.certificates.findLiveByResidentOrKeys(resident, [])).map((c) => c.serial), [own[1]!.serial, own[0]!.serial, ownWithKey.serial]);
        assert.deepEqual(await fx.certificates.findLiveByResidentOrKeys(hex(6), [hex(32)]), []);
        const inTx = await fx.transactions.transaction((tx) => fx.certificates.findLiveByResidentOrKeys(hex(6), [k1], tx));
        assert.deepEqual(inTx.map((c) => c.serial), [otherWithKey.serial]);
      });

      it("revoke returns true once, then false; hold can become revoked, not the reverse", async () => {
        const p = pending();
        await fx.certificates.insertPending(p);
        await fx.certificates.completeIssued(p.serial, Uint8Array.from([1]));
        const invalidityDate = new Date("2026-11-30T12:00:00Z");
        assert.equal(await fx.certificates.revoke(p.serial, { ...revocation, invalidityDate }), true);
        assert.equal(await fx.certificates.revoke(p.serial, { ...revocation, reason: "superseded" }), false);
        const got = await fx.certificates.get(p.serial);
        assert.equal(got?.status, "revoked");
        assert.equal(got?.revocationReason, "keyCompromise");
        assert.deepEqual(got?.revokedAt, revocation.revokedAt);
        assert.deepEqual(got?.invalidityDate, invalidityDate);
        assert.equal(await fx.certificates.revoke(p.serial, { ...revocation, status: "hold", reason: "certificateHold" }), false);
        assert.equal(await fx.certificates.revoke(hex(10), revocation), false);

        const h = pending();
        await fx.certificates.insertPending(h);
        await fx.certificates.completeIssued(h.serial, Uint8Array.from([1]));
        assert.equal(await fx.certificates.revoke(h.serial, { ...revocation, status: "hold", reason: "certificateHold" }), true);
        assert.equal(await fx.certificates.revoke(h.serial, { ...revocation, status: "hold", reason: "certificateHold" }), false);
        assert.equal(await fx.certificates.revoke(h.serial, revocation), true);
        assert.equal((await fx.certificates.get(h.serial))?.status, "revoked");
      });
    });

    describe("AuditStore", () => {
      it("appends linked entries that range() returns unchanged", async () => {
        const detail = { z: 1, a: { y: [3, { b: 2, a: 1 }], x: "住所" }, when: "2026-11-22" };
        const e = await fx.audit.append(entry({ subject: "certificate:01ab", detail, at: new Date("2026-11-22T05:00:00.007Z") }));
        const [read] = await fx.audit.range(e.seq, 1);
        assert.deepEqual(read, e);
        assert.equal(verifyChain([e], e.prevHash).ok, true);
      });

      it("keeps one valid chain under 50 concurrent appends", async () => {
        const start = (await fx.audit.range(1, 1_000_000)).length;
        const appended = await Promise.all(Array.from({ length: 50 }, (_, i) => fx.audit.append(entry({ detail: { i } }))));
        assert.equal(new Set(appended.map((a) => a.seq)).size, 50);
        const all = await fx.audit.range(1, 1_000_000);
        assert.equal(all.length, start + 50);
        assert.equal(all[0]?.seq, 1);
        assert.deepEqual(verifyChain(all, GENESIS_PREV_HASH), { ok: true, count: all.length, lastSeq: all.at(-1)!.seq, lastHash: all.at(-1)!.hash });
      });

      it("keeps one valid chain when transactions append concurrently", async () => {
        await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            fx.transactions.transaction(async (tx) => {
              await fx.audit.append(entry({ detail: { i, part: 1 } }), tx);
              await fx.audit.append(entry({ detail: { i, part: 2 } }), tx);
            }),
          ),
        );
        const all = await fx.audit.range(1, 1_000_000);
        assert.equal(verifyChain(all).ok, true);
      });
    });

    describe("transactions", () => {
      it("commits every write and returns the work's value", async () => {
        const p = pending();
        const result = await fx.transactions.transaction(async (tx) => {
          await fx.certificates.insertPending(p, tx);
          await fx.audit.append(entry({ action: "certificate.pending" }), tx);
          return "done";
        });
        assert.equal(result, "done");
        assert.equal((await fx.certificates.get(p.serial))?.status, "pending");
      });

      it("rolls back every write when the work throws", async () => {
        const existing = pending();
        await fx.certificates.insertPending(existing);
        const headBefore = (await fx.audit.range(1, 1_000_000)).at(-1);
        const ca = generation("sign");
        const p = pending();
        await assert.rejects(
          fx.transactions.transaction(async (tx) => {
            await fx.caGenerations.insert(ca, tx);
            await fx.certificates.insertPending({ ...p, caId: ca.id }, tx);
            await fx.certificates.completeIssued(p.serial, Uint8Array.from([1]), tx);
            assert.equal(await fx.certificates.revoke(existing.serial, revocation, tx), true);
            await fx.audit.append(entry({ action: "certificate.revoked" }), tx);
            assert.equal((await fx.certificates.get(p.serial, tx))?.status, "valid"); // visible inside
            throw new Error("boom");
          }),
          /boom/,
        );
        assert.equal(await fx.caGenerations.get(ca.id), undefined);
        assert.equal(await fx.certificates.get(p.serial), undefined);
        assert.equal((await fx.certificates.get(existing.serial))?.status, "pending");
        const all = await fx.audit.range(1, 1_000_000);
        assert.equal(all.at(-1)?.seq, headBefore?.seq);
        const next = await fx.audit.append(entry());
        assert.equal(next.seq, (headBefore?.seq ?? 0) + 1);
        assert.equal(verifyChain(await fx.audit.range(1, 1_000_000)).ok, true);
      });

      it("rolls back when a write inside conflicts", async () => {
        const taken = pending();
        await fx.certificates.insertPending(taken);
        const fresh = pending();
        await assert.rejects(
          fx.transactions.transaction(async (tx) => {
            await fx.certificates.insertPending(fresh, tx);
            await fx.certificates.insertPending({ ...pending(), serial: taken.serial }, tx);
          }),
          isCaError("conflict"),
        );
        assert.equal(await fx.certificates.get(fresh.serial), undefined);
      });

      it("refuses a store call without tx inside a transaction instead of deadlocking", async () => {
        const p = pending();
        await assert.rejects(
          fx.transactions.transaction(async (tx) => {
            await fx.certificates.insertPending(p, tx);
            await fx.certificates.get(p.serial); // forgot tx
          }),
          isCaError("internal"),
        );
        assert.equal(await fx.certificates.get(p.serial), undefined);
        await assert.rejects(
          fx.transactions.transaction(async () => fx.transactions.transaction(async () => 1)),
          isCaError("internal"),
        );
      });
    });
  });
}
