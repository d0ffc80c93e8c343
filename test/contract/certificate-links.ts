import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { IssuanceRecord, IssuanceStore } from "../../ca/issuance/issuance-ports.js";
import { latestOf, type CertificateLink, type CertificateLinkStore } from "../../ca/linkage/certificate-links.js";
import type { CaGenerationStore, CertificateStore, NewPendingCertificate, TransactionRunner } from "../../ca/stores.js";
import type { CaGeneration, CaKind, CertificateDevice } from "../../ca/types.js";
import { fakeCaGeneration } from "../support/ca-generation-fixture.js";

/**
 * Contract suite for the linkage graph (issue #16 item 2, docs/linkage.md): the CertificateLinkStore
 * port, and the links IssuanceStore.completeWithCertificates records in the issuance transaction. Run
 * against the memory doubles (test/unit/db/memory-certificate-links.test.ts), PGlite and PostgreSQL
 * (test/integration/db/certificate-links.test.ts). Tests use their own residents and serials.
 */
export interface CertificateLinkFixture {
  readonly transactions: TransactionRunner;
  readonly caGenerations: CaGenerationStore;
  readonly certificates: CertificateStore;
  readonly issuances: IssuanceStore;
  readonly links: CertificateLinkStore;
  close(): Promise<void>;
}

const hex = (n: number): string => randomBytes(n).toString("hex");
const T0 = new Date("2026-11-22T05:00:00.000Z");
const days = (n: number): Date => new Date(T0.getTime() + n * 86_400_000);
const bySerial = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function certificateLinksContract(name: string, open: () => Promise<CertificateLinkFixture>): void {
  describe(`${name}: certificate linkage contract`, function () {
    this.timeout(120_000);
    let fx: CertificateLinkFixture;
    const gens = {} as Record<CaKind, CaGeneration>;

    const link = (fromSerial: string, toSerial: string, type: CertificateLink["link"], residentCode: string | null, createdAt = T0): CertificateLink => ({
      fromSerial,
      toSerial,
      link: type,
      residentCode,
      createdAt,
    });
    const issuance = (residentCode: string, createdAt: Date): IssuanceRecord => ({
      issuanceId: hex(16),
      terminalId: "terminal-1",
      idempotencyKey: hex(8),
      requestSha256: hex(32),
      operatorId: "operator-1",
      municipalityCode: "131016",
      applicationDate: "2026-11-22",
      residentCode,
      status: "pending",
      response: null,
      createdAt,
      completedAt: null,
    });
    const pending = (kind: CaKind, residentCode: string, issuanceId: string, createdAt: Date, device?: CertificateDevice): NewPendingCertificate => ({
      serial: `0${gens[kind].serialPrefix}${hex(9)}`,
      caId: gens[kind].id,
      kind,
      ...(device === undefined ? {} : { device }),
      notBefore: createdAt,
      notAfter: new Date("2031-11-21T14:59:59Z"),
      partition: 1,
      tbs: Uint8Array.from([0x30, 0x00]),
      publicKeySha256: hex(32),
      subjectId: hex(8),
      residentCode,
      issuanceId,
      recorded: { answer: { kind } },
      createdAt,
    });
    /** One issuance of `kinds` at `at`: reserved, then completed (as the service's steps 1 and 3). */
    const issue = async (residentCode: string, kinds: readonly CaKind[], at: Date) => {
      const record = issuance(residentCode, at);
      const certs = kinds.map((k) => pending(k, residentCode, record.issuanceId, at));
      await fx.issuances.insertWithCertificates(record, certs);
      const signed = certs.map((c, i) => ({ serial: c.serial, der: Uint8Array.from([0x30, i]) }));
      const done = await fx.transactions.transaction((tx) => fx.issuances.completeWithCertificates(record.issuanceId, signed, {}, at, tx));
      assert.ok(done);
      const serial = (k: CaKind): string => certs.find((c) => c.kind === k)!.serial;
      return { record, certs, signed, done, serial };
    };

    before(async () => {
      fx = await open();
      gens.auth = fakeCaGeneration("auth", 71, T0);
      gens.sign = fakeCaGeneration("sign", 72, T0);
      await fx.caGenerations.insert(gens.auth);
      await fx.caGenerations.insert(gens.sign);
    });
    after(async () => {
      await fx?.close();
    });

    describe("CertificateLinkStore", () => {
      it("reads links by from, to and resident, oldest first, and ignores a link recorded before", async () => {
        const code = hex(6);
        const [a, b, c, d] = [hex(10), hex(10), hex(10), hex(10)];
        const first = [link(a, b, "successor", code, T0), link(a, c, "sign-auth", code, T0)];
        const later = link(b, d, "successor", code, days(1));
        await fx.transactions.transaction((tx) => fx.links.insertMany([...first, later], tx));
        await fx.transactions.transaction((tx) => fx.links.insertMany([{ ...first[0]!, createdAt: days(9) }], tx)); // the same link again
        assert.deepEqual(await fx.links.from(a, "successor"), [first[0]]);
        assert.deepEqual(await fx.links.from(a, "sign-auth"), [first[1]]);
        assert.deepEqual(await fx.links.from(a, "card-phone"), []);
        assert.deepEqual(await fx.links.to(b, "successor"), [first[0]]);
        assert.deepEqual(await fx.links.to(d, "successor"), [later]);
        assert.deepEqual(await fx.links.to(a, "successor"), []);
        const all = await fx.links.ofResident(code);
        assert.deepEqual(all.slice(-1), [later], "oldest first");
        assert.deepEqual(new Set(all.map((l) => `${l.fromSerial}>${l.toSerial}:${l.link}`)), new Set([`${a}>${b}:successor`, `${a}>${c}:sign-auth`, `${b}>${d}:successor`]));
        assert.deepEqual(await fx.links.ofResident(hex(6)), []);
        await fx.transactions.transaction((tx) => fx.links.insertMany([], tx)); // nothing to write
      });

      it("rolls back with the transaction it was written in", async () => {
        const [a, b] = [hex(10), hex(10)];
        await assert.rejects(
          fx.transactions.transaction(async (tx) => {
            await fx.links.insertMany([link(a, b, "card-phone", null)], tx);
            assert.equal((await fx.links.from(a, "card-phone", tx)).length, 1, "visible inside");
            throw new Error("roll back");
          }),
          /roll back/,
        );
        assert.deepEqual(await fx.links.from(a, "card-phone"), []);
      });

      it("latestOf follows successor links to the newest, and stops on a cycle", async () => {
        const [a, b, c, x, y] = [hex(10), hex(10), hex(10), hex(10), hex(10)];
        await fx.transactions.transaction((tx) =>
          fx.links.insertMany([link(a, b, "successor", null, T0), link(b, c, "successor", null, days(1)), link(x, y, "successor", null), link(y, x, "successor", null)], tx),
        );
        assert.equal(await latestOf(a, fx.links), c);
        assert.equal(await latestOf(b, fx.links), c);
        assert.equal(await latestOf(c, fx.links), c);
        const lone = hex(10);
        assert.equal(await latestOf(lone, fx.links), lone, "no successor: itself");
        assert.ok([x, y].includes(await latestOf(x, fx.links)));
      });
    });

    describe("links recorded by IssuanceStore.completeWithCertificates", () => {
      it("issuance → renewal → a move revokes signing → re-issue: successor chains per kind and device, sign-auth per issuance", async () => {
        const code = hex(6);
        const first = await issue(code, ["auth", "sign"], T0);
        assert.deepEqual(first.done.links, [{ fromSerial: first.serial("sign"), toSerial: first.serial("auth"), link: "sign-auth" }]);

        // Another resident's certificates and this resident's never-signed reservation are no predecessors.
        await issue(hex(6), ["auth", "sign"], days(1));
        const abandoned = issuance(code, days(2));
        await fx.issuances.insertWithCertificates(abandoned, [pending("sign", code, abandoned.issuanceId, days(2))]);
        // A phone certificate of the resident: the card chain does not run through it (device differs).
        const phoneIssuance = hex(16);
        const phone = pending("sign", code, phoneIssuance, days(3), "phone");
        await fx.certificates.insertPending(phone);
        await fx.certificates.completeIssued(phone.serial, Uint8Array.from([0x30, 0x09]));
        assert.equal((await fx.certificates.get(phone.serial))?.device, "phone");
        assert.equal((await fx.certificates.get(first.serial("sign")))?.device, "card");

        const renewal = await issue(code, ["auth", "sign"], days(400));
        assert.deepEqual(renewal.done.links, [
          ...[
            { fromSerial: first.serial("auth"), toSerial: renewal.serial("auth"), link: "successor" as const },
            { fromSerial: first.serial("sign"), toSerial: renewal.serial("sign"), link: "successor" as const },
          ].sort((p, q) => bySerial(p.fromSerial, q.fromSerial) || bySerial(p.toSerial, q.toSerial)),
          { fromSerial: renewal.serial("sign"), toSerial: renewal.serial("auth"), link: "sign-auth" },
        ]);
        assert.deepEqual(renewal.done.superseded.slice().sort(bySerial), [first.serial("auth"), first.serial("sign")].sort(bySerial), "the phone's are not superseded by a card issuance");
        assert.equal((await fx.certificates.get(phone.serial))?.status, "valid");

        // The move: the resident event revokes the signing certificate only (docs/domain.md §3).
        assert.equal(await fx.certificates.revoke(renewal.serial("sign"), { status: "revoked", reason: "affiliationChanged", revokedAt: days(500), invalidityDate: null }), true);
        const reissue = await issue(code, ["sign"], days(501));
        assert.deepEqual(reissue.done.links, [{ fromSerial: renewal.serial("sign"), toSerial: reissue.serial("sign"), link: "successor" }], "from the revoked one; no sign-auth without a user-auth certificate");

        const stored = await fx.links.to(reissue.serial("sign"), "successor");
        assert.deepEqual(stored, [{ fromSerial: renewal.serial("sign"), toSerial: reissue.serial("sign"), link: "successor", residentCode: code, createdAt: days(501) }]);
        assert.equal(await latestOf(first.serial("sign"), fx.links), reissue.serial("sign"));
        assert.equal(await latestOf(first.serial("auth"), fx.links), renewal.serial("auth"));
        assert.equal(await latestOf(phone.serial, fx.links), phone.serial);
        assert.deepEqual(await fx.links.from(renewal.serial("sign"), "sign-auth"), [
          { fromSerial: renewal.serial("sign"), toSerial: renewal.serial("auth"), link: "sign-auth", residentCode: code, createdAt: days(400) },
        ]);
        assert.equal((await fx.links.ofResident(code)).length, 5);
      });

      it("chains issuances made within one second (creation times are truncated to the second)", async () => {
        const code = hex(6);
        const [a, b, c] = [await issue(code, ["sign"], T0), await issue(code, ["sign"], T0), await issue(code, ["sign"], T0)];
        assert.deepEqual(b.done.links, [{ fromSerial: a.serial("sign"), toSerial: b.serial("sign"), link: "successor" }]);
        assert.deepEqual(c.done.links, [{ fromSerial: b.serial("sign"), toSerial: c.serial("sign"), link: "successor" }]);
        assert.equal(await latestOf(a.serial("sign"), fx.links), c.serial("sign"));
      });

      it("a completion that is replayed (retry, reconciler) writes no link twice", async () => {
        const code = hex(6);
        await issue(code, ["auth", "sign"], T0);
        const renewal = await issue(code, ["auth", "sign"], days(30));
        const before = await fx.links.ofResident(code);
        assert.equal(before.length, 4);
        const again = await fx.transactions.transaction((tx) => fx.issuances.completeWithCertificates(renewal.record.issuanceId, renewal.signed, {}, days(31), tx));
        assert.equal(again, undefined);
        assert.deepEqual(await fx.links.ofResident(code), before);
      });

      it("records nothing when the completion is refused (the links roll back with it)", async () => {
        const code = hex(6);
        const first = await issue(code, ["sign"], T0);
        const record = issuance(code, days(1));
        const cert = pending("sign", code, record.issuanceId, days(1));
        await fx.issuances.insertWithCertificates(record, [cert]);
        const foreign = [{ serial: first.serial("sign"), der: Uint8Array.from([0x30, 0x01]) }];
        await assert.rejects(fx.transactions.transaction((tx) => fx.issuances.completeWithCertificates(record.issuanceId, [...foreign, { serial: cert.serial, der: Uint8Array.from([0x30]) }], {}, days(1), tx)));
        assert.deepEqual(await fx.links.to(cert.serial, "successor"), []);
      });
    });
  });
}
