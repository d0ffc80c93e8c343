import assert from "node:assert/strict";
import { AccessDenied } from "../../../../ca/access/resident-access.js";
import { CaError, type CaErrorKind } from "../../../../ca/errors.js";
import { IdempotencyKeyInUseError, PublicKeyInUseError, PublicKeyRefusedError } from "../../../../ca/issuance/issuance-ports.js";
import { IssuanceService } from "../../../../ca/issuance/issuance-service.js";
import { PUBLIC_KEY_IN_USE } from "../../../../ca/stores.js";
import type { CertificateRecord } from "../../../../ca/types.js";
import {
  application,
  cardKey,
  context,
  issuanceWorld,
  MUNICIPALITY,
  NOW,
  OTHER_MUNICIPALITY,
  RESIDENT_CODE,
  residentFields,
  type CardKey,
  type IssuanceWorld,
} from "../../../support/issuance-world.js";

/**
 * The rules of ca/issuance/issuance-service.ts (+ issuance-plan.ts) on in-memory ports, one case per rule
 * (issue 15 item 5). The same rules run end to end on PostgreSQL and SoftHSM in test/e2e/issuance.test.ts.
 */

interface Answer {
  issuanceId: string;
  certificates: Array<{ kind: string; serialNumber: string; notAfter: string; certificate: string }>;
}

/** The CaError `fn` rejects with: its kind and field (and class, when asked). */
async function refusal(p: Promise<unknown>, kind: CaErrorKind, field: string | undefined, type: abstract new (...args: never[]) => CaError = CaError): Promise<CaError> {
  let caught: unknown;
  await p.then(
    () => assert.fail("expected a refusal"),
    (e: unknown) => (caught = e),
  );
  assert.ok(caught instanceof type, `expected ${type.name}, got ${String(caught)}`);
  assert.equal(caught.kind, kind, caught.message);
  assert.equal(caught.field, field, caught.message);
  return caught;
}

describe("ca/issuance: IssuanceService on in-memory ports", function () {
  this.timeout(60_000);
  const keys: CardKey[] = [];
  let next = 0;
  /** A card key not used yet in this test (made ahead, in parallel; each test has a fresh world). */
  const key = (): CardKey => keys[next++] ?? assert.fail("out of test keys");
  let w: IssuanceWorld;

  before(async () => {
    keys.push(...(await Promise.all(Array.from({ length: 8 }, () => cardKey()))));
  });
  beforeEach(async () => {
    next = 0;
    w = await issuanceWorld();
  });

  /** Every certificate row, whatever its status. */
  const certificates = async (): Promise<CertificateRecord[]> => [...w.stores.db.state.certificates.values()];
  const issue = async (body: Record<string, unknown>, ctx = context()) => w.service.issue(ctx, body);
  const issueBoth = async (ctx = context(), overrides: Parameters<typeof application>[1] = {}) =>
    (await issue(application([{ kind: "auth", key: key() }, { kind: "sign", key: key() }], overrides), ctx)).answer as unknown as Answer;
  /** Nothing of an issuance was written: no record, no certificate, no resident, no signature. */
  const assertNothingRecorded = async (): Promise<void> => {
    assert.equal(w.stores.db.state.issuances.size, 0);
    assert.deepEqual(await certificates(), []);
    assert.equal(w.stores.db.state.residents.size, 0);
    assert.deepEqual(w.signed, []);
  };

  it("issues both certificates: recorded, signed, valid, audited, and answered user-auth first", async () => {
    const answer = await issueBoth();
    assert.deepEqual(answer.certificates.map((c) => c.kind), ["auth", "sign"]);
    const rows = await certificates();
    assert.deepEqual(rows.map((r) => r.status), ["valid", "valid"]);
    assert.ok(rows.every((r) => r.issuanceId === answer.issuanceId && r.residentCode === RESIDENT_CODE && r.der !== null));
    assert.equal((await w.issuances.get(answer.issuanceId))?.status, "completed");
    assert.deepEqual(w.stores.db.state.audit.map((e) => e.action), ["certificate.issued"]);
    // docs/domain.md §2/§5: the signing certificate does not outlive the user-authentication one.
    const [auth, sign] = answer.certificates;
    assert.ok(new Date(sign!.notAfter) <= new Date(auth!.notAfter));
  });

  describe("resident record on file (docs/domain.md §3)", () => {
    it("refuses an application whose four items differ from the record on file, naming the field; nothing new is recorded", async () => {
      await issueBoth();
      const before = { certificates: (await certificates()).length, issuances: w.stores.db.state.issuances.size, signed: w.signed.length };
      const other = residentFields({ address: "東京都新宿区西新宿二丁目８番１号", addressSubstituteFlags: "0".repeat(16) });
      await refusal(issueBoth(context(), { resident: other }), "conflict", "resident.address");
      await refusal(issueBoth(context(), { resident: residentFields({ gender: 2 }) }), "conflict", "resident.gender");
      assert.deepEqual({ certificates: (await certificates()).length, issuances: w.stores.db.state.issuances.size, signed: w.signed.length }, before);
    });

    it("refuses a resident no longer on the register (unprocessable)", async () => {
      await issueBoth();
      const onFile = (await w.residents.getForUpdate(RESIDENT_CODE))!;
      await w.residents.put({ ...onFile, status: "deceased" }, MUNICIPALITY);
      await refusal(issueBoth(), "unprocessable", "residentCode");
    });
  });

  describe("municipality scoping (issue 12: whose resident)", () => {
    it("a terminal applies only for the municipality it is enrolled for (forbidden)", async () => {
      await refusal(issueBoth(context(), { municipalityCode: OTHER_MUNICIPALITY }), "forbidden", "municipalityCode");
      await assertNothingRecorded();
    });

    it("a resident on file in another municipality: refused without comparing any field, audited as access.denied", async () => {
      await issueBoth(context({ municipalityCode: OTHER_MUNICIPALITY }), { municipalityCode: OTHER_MUNICIPALITY });
      const denied = await refusal(issueBoth(context(), { resident: residentFields({ gender: 2 }) }), "conflict", "residentCode", AccessDenied);
      assert.equal(denied.message, "does not match the resident record on file");
      assert.equal(w.stores.db.state.audit.at(-1)?.action, "access.denied");
      assert.equal(w.stores.db.state.issuances.size, 1);
    });
  });

  describe("keys (docs/domain.md §2; issue 12 item 5)", () => {
    it("each certificate needs its own key pair (unprocessable)", async () => {
      const k = key();
      await refusal(issue(application([{ kind: "auth", key: k }, { kind: "sign", key: k }])), "unprocessable", "requests[1].csr");
      await assertNothingRecorded();
    });

    it("a key in another live certificate is refused, naming the request field (PublicKeyInUseError)", async () => {
      const taken = key();
      await issue(application([{ kind: "auth", key: taken }], { residentCode: "10987654321" }));
      const e = await refusal(issue(application([{ kind: "auth", key: taken }])), "conflict", "requests[0].csr", PublicKeyInUseError);
      assert.equal(e.message, PUBLIC_KEY_IN_USE);
    });

    it("the store's refusal of a key in use (a concurrent issuance took it) names the field too", async () => {
      const taken = key();
      await issue(application([{ kind: "auth", key: taken }], { residentCode: "10987654321" }));
      // The check inside the transaction sees nothing (as if the other issuance committed just after it).
      const certs = w.stores.certificates;
      const findLive = certs.findLiveByResidentOrKeys.bind(certs);
      certs.findLiveByResidentOrKeys = async (code, _keys, tx) => findLive(code, [], tx);
      await refusal(issue(application([{ kind: "auth", key: key() }, { kind: "sign", key: taken }])), "conflict", "requests[1].csr", PublicKeyInUseError);
    });

    it("a key of a revoked certificate comes back: refused as certified before, naming the field", async () => {
      const old = key();
      const first = (await issue(application([{ kind: "auth", key: old }]))).answer as unknown as Answer;
      const serial = first.certificates[0]!.serialNumber;
      await w.stores.certificates.revoke(serial, { status: "revoked", reason: "unspecified", revokedAt: NOW, invalidityDate: null });
      const e = await refusal(issue(application([{ kind: "auth", key: key() }, { kind: "sign", key: old }])), "conflict", "requests[1].csr", PublicKeyRefusedError);
      assert.equal((e as PublicKeyRefusedError).rule, "certified-before");
    });
  });

  describe("signing needs user authentication (docs/domain.md §2/§5)", () => {
    it("a signing certificate alone, without a valid user-authentication one, is refused; nothing recorded", async () => {
      await refusal(issue(application([{ kind: "sign", key: key() }])), "unprocessable", "requests");
      assert.equal(w.stores.db.state.issuances.size, 0);
      assert.deepEqual(await certificates(), []);
      assert.deepEqual(w.signed, []);
    });

    it("with a valid user-authentication certificate on file, signing alone is issued, capped by it", async () => {
      const auth = (await issue(application([{ kind: "auth", key: key() }]))).answer as unknown as Answer;
      const sign = (await issue(application([{ kind: "sign", key: key() }]))).answer as unknown as Answer;
      assert.deepEqual(sign.certificates.map((c) => c.kind), ["sign"]);
      assert.ok(new Date(sign.certificates[0]!.notAfter) <= new Date(auth.certificates[0]!.notAfter));
    });
  });

  describe("all or none", () => {
    it("one bad CSR: the other is not issued either, and nothing is recorded", async () => {
      const garbled = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n";
      await refusal(issue(application([{ kind: "auth", key: key() }, { kind: "sign", key: garbled }])), "invalid-input", "requests[1].csr");
      await assertNothingRecorded();
    });

    it("the HSM fails on one: the issuance and both certificates are failed, none valid, and the failure audited", async () => {
      w.onSign = (kind) => {
        if (kind === "sign") throw new Error("CKR_DEVICE_ERROR");
      };
      await refusal(issueBoth(), "unavailable", undefined);
      const rows = await certificates();
      assert.deepEqual(rows.map((r) => r.status), ["failed", "failed"]);
      assert.deepEqual([...w.stores.db.state.issuances.values()].map((r) => r.status), ["failed"]);
      assert.deepEqual(w.stores.db.state.audit.map((e) => e.action), ["certificate.issuance.failed"]);
    });
  });

  describe("Idempotency-Key (docs/api.md §4)", () => {
    it("the same key and body: the same answer again, nothing signed twice", async () => {
      const ctx = context();
      const body = application([{ kind: "auth", key: key() }, { kind: "sign", key: key() }]);
      const first = await w.service.issue(ctx, body);
      const again = await w.service.issue(ctx, JSON.parse(JSON.stringify(body)) as unknown);
      assert.equal(first.replayed, false);
      assert.equal(again.replayed, true);
      assert.deepEqual(again.answer, first.answer);
      assert.equal(w.signed.length, 2);
      assert.equal(w.stores.db.state.issuances.size, 1);
    });

    it("the same key with another body: conflict on Idempotency-Key", async () => {
      const ctx = context();
      await w.service.issue(ctx, application([{ kind: "auth", key: key() }]));
      await refusal(w.service.issue(ctx, application([{ kind: "auth", key: key() }])), "conflict", "Idempotency-Key");
    });

    it("a concurrent request with the same key won the race (IdempotencyKeyInUseError): answered as a retry", async () => {
      const ctx = context();
      const body = application([{ kind: "auth", key: key() }]);
      const first = await w.service.issue(ctx, body);
      // Both look-ups ran before the winner committed; the insert then clashes on the key.
      const findByKey = w.issuances.findByKey.bind(w.issuances);
      w.stores.certificates.findLiveByResidentOrKeys = async () => [];
      let calls = 0;
      w.issuances.findByKey = async (...args) => (++calls === 1 ? undefined : findByKey(...args));
      let clash: unknown;
      const insert = w.issuances.insertWithCertificates.bind(w.issuances);
      w.issuances.insertWithCertificates = (...args) => insert(...args).catch((e: unknown) => Promise.reject((clash = e)));
      const again = await w.service.issue(ctx, body);
      assert.ok(clash instanceof IdempotencyKeyInUseError);
      assert.equal(again.replayed, true);
      assert.deepEqual(again.answer, first.answer);
    });

    it("a retry of an issuance that crashed between signing and storing finishes it from the stored TBS", async () => {
      const ctx = context();
      const body = application([{ kind: "auth", key: key() }]);
      const complete = w.issuances.completeWithCertificates.bind(w.issuances);
      w.issuances.completeWithCertificates = async () => Promise.reject(new Error("connection lost"));
      await assert.rejects(w.service.issue(ctx, body), /connection lost/);
      assert.deepEqual((await certificates()).map((r) => r.status), ["pending"]);
      w.issuances.completeWithCertificates = complete;
      const again = await w.service.issue(ctx, body);
      assert.equal(again.replayed, true);
      assert.deepEqual((await certificates()).map((r) => r.status), ["valid"]);
      // The HSM signed the TBS stored in step (1) both times.
      assert.deepEqual(w.signed[1]?.tbs, w.signed[0]?.tbs);
    });

    it("a retry reaching a node that does not know the issuance's CA generation yet answers unavailable and fails nothing", async () => {
      const ctx = context();
      const body = application([{ kind: "auth", key: key() }]);
      const complete = w.issuances.completeWithCertificates.bind(w.issuances);
      w.issuances.completeWithCertificates = async () => Promise.reject(new Error("connection lost"));
      await assert.rejects(w.service.issue(ctx, body), /connection lost/);
      w.issuances.completeWithCertificates = complete;
      // Another node: the same stores, a generation made elsewhere not polled yet (docs/cluster.md).
      const deps = (w.service as unknown as { deps: ConstructorParameters<typeof IssuanceService>[0] }).deps;
      const otherNode = new IssuanceService({ ...deps, authorities: { active: deps.authorities.active.bind(deps.authorities), byCaId: () => undefined } });
      await assert.rejects(otherNode.issue(ctx, body), (e) => e instanceof CaError && e.kind === "unavailable");
      assert.deepEqual((await certificates()).map((r) => r.status), ["pending"], "not failed under the node that knows it");
      assert.equal((await w.service.issue(ctx, body)).replayed, true);
      assert.deepEqual((await certificates()).map((r) => r.status), ["valid"]);
    });
  });

  it("records before it signs: when the HSM is asked, the issuance and the TBS are stored as pending (docs/design.md invariant 1)", async () => {
    const seen: string[] = [];
    w.onSign = async (kind, tbs) => {
      const issuance = [...w.stores.db.state.issuances.values()];
      assert.deepEqual(issuance.map((r) => r.status), ["pending"]);
      const row = (await certificates()).find((r) => r.tbs !== null && Buffer.from(r.tbs).equals(Buffer.from(tbs)));
      assert.ok(row, `the ${kind} TBS being signed is stored`);
      assert.equal(row.status, "pending");
      assert.equal(row.issuanceId, issuance[0]?.issuanceId);
      seen.push(kind);
    };
    await issueBoth();
    assert.deepEqual(seen.sort(), ["auth", "sign"]);
  });
});
