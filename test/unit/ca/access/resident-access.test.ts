import assert from "node:assert/strict";
import { CertificateLookup } from "../../../../ca/access/certificate-lookup.js";
import { CaError } from "../../../../ca/errors.js";
import type { OperatorPrincipal } from "../../../../ca/operators/operator-principal.js";
import type { OutboxWriter } from "../../../../ca/revocation/outbox.js";
import { FixedClock } from "../../../../ca/ports.js";
import { mayAct, municipalityOfCertificate, terminalScope, type AccessScope } from "../../../../ca/access/resident-access.js";
import { RevocationService } from "../../../../ca/revocation/revocation-service.js";
import type { OperatorRole } from "../../../../ca/operators/roles.js";
import { assertTerminalsHaveMunicipality } from "../../../../ca/operators/terminal-access.js";
import { MemoryResidentMunicipalities, memoryRevocationWindow } from "../../../support/memory-resident-access.js";
import { createMemoryStores } from "../../../support/memory-stores.js";
import { certificate, residentCode, T0 } from "../../../support/resident-event-fixtures.js";

const operator = (id: string, ...roles: OperatorRole[]): OperatorPrincipal => ({
  operatorId: id,
  roles,
  mustChangePassword: false,
  sessionTokenHash: "00",
  terminalFingerprint: "AA",
  expiresAt: new Date("2030-01-01T00:00:00Z"),
});
const clerk = operator("clerk", "terminal-operator");
const ops = operator("ops", "ca-operator");
const shinjuku: AccessScope = { kind: "terminal", terminalId: "counter-01", municipalityCode: "131041" };
const osaka: AccessScope = { kind: "terminal", terminalId: "osaka-01", municipalityCode: "271004" };
const caSide: AccessScope = { kind: "ca-side", clientId: "admin:ws-01", purpose: "record error reported by the municipality" };
const kind = (e: unknown): string => (e instanceof CaError ? e.kind : `not a CaError: ${String(e)}`);

/** 20 residents of 131041 with one signing and one auth certificate each; resident 9 lives in 271004. */
function world(now = T0) {
  const stores = createMemoryStores();
  const residents = new MemoryResidentMunicipalities();
  for (let n = 1; n <= 20; n++) {
    const code = residentCode(n);
    residents.byResident.set(code, n === 9 ? "271004" : "131041");
    for (const c of [certificate(`0a${n.toString(16).padStart(2, "0")}`, "sign", { residentCode: code }), certificate(`0b${n.toString(16).padStart(2, "0")}`, "auth", { residentCode: code })]) {
      stores.db.state.certificates.set(c.serial, c);
    }
  }
  const outbox: OutboxWriter = { add: async (_topic, _payload, tx) => stores.db.run(tx, () => undefined) };
  const clock = new FixedClock(now);
  const deps = { clock, transactions: stores.db, certificates: stores.certificates, audit: stores.audit, outbox, residents, window: memoryRevocationWindow(() => stores.db.state.audit) };
  const revocation = new RevocationService(deps);
  const lookup = new CertificateLookup({ certificates: stores.certificates, residents, audit: stores.audit, clock });
  const audit = () => stores.db.state.audit;
  return { stores, residents, revocation, lookup, audit, clock };
}

describe("object-level authorization (ca/access/resident-access.ts)", () => {
  it("decides by the resident's current municipality on file, then the one recorded at issuance", async () => {
    const residents = new MemoryResidentMunicipalities();
    const cert = { ...certificate("0a01", "sign", { residentCode: residentCode(1) }), recorded: { municipalityCode: "131041" } };
    assert.equal(await municipalityOfCertificate(residents, cert), "131041", "not on file: the issuing municipality");
    residents.byResident.set(residentCode(1), "271004");
    assert.equal(await municipalityOfCertificate(residents, cert), "271004", "moved: the record on file wins");
    assert.equal(await municipalityOfCertificate(new MemoryResidentMunicipalities(), { ...cert, recorded: {} }), null);
    assert.equal(mayAct(shinjuku, null), false, "unknown municipality: no terminal");
    assert.equal(mayAct(caSide, null), true);
    assert.throws(() => terminalScope({ terminalId: "old-1", municipalityCode: null }), (e: unknown) => kind(e) === "forbidden");
  });

  it("a terminal reads, holds and revokes only its own municipality's residents; another's is 404 as an unknown serial, and audited", async () => {
    const w = world();
    const foreign = "0a09"; // resident 9 lives in 271004
    const unknown = await w.lookup.read(clerk, shinjuku, "ffff").catch((e: unknown) => e);
    for (const attempt of [
      () => w.lookup.read(clerk, shinjuku, foreign),
      () => w.revocation.hold(clerk, foreign, {}, { scope: shinjuku }),
      () => w.revocation.revoke(clerk, foreign, { reason: "unspecified" }, { scope: shinjuku }),
    ]) {
      const e = await attempt().catch((x: unknown) => x);
      assert.equal(kind(e), "not-found");
      assert.equal((e as CaError).message, (unknown as CaError).message, "the body of an unknown serial");
    }
    assert.equal(w.stores.db.state.certificates.get(foreign)?.status, "valid", "nothing changed");
    const denials = w.audit().filter((e) => e.action === "access.denied");
    assert.deepEqual(denials.map((e) => [e.actor, e.subject, e.outcome, e.detail.operation, e.detail.terminalId]), [
      ["operator:clerk", `certificate:${foreign}`, "denied", "read", "counter-01"],
      ["operator:clerk", `certificate:${foreign}`, "denied", "hold", "counter-01"],
      ["operator:clerk", `certificate:${foreign}`, "denied", "revoke", "counter-01"],
    ]);
    assert.ok(!JSON.stringify(denials).includes(residentCode(9)), "no personal data in the denial");
    // The other municipality's terminal and the CA side may.
    assert.equal((await w.lookup.read(clerk, osaka, foreign)).serial, foreign);
    assert.equal((await w.revocation.revoke(ops, foreign, { reason: "affiliationChanged" }, { scope: caSide })).status, "revoked");
    const read = w.audit().find((e) => e.action === "certificate.read");
    assert.deepEqual([read?.detail.scope, read?.detail.terminalId], ["terminal", "osaka-01"]);
    const revoked = w.audit().find((e) => e.action === "certificate.revoked");
    assert.equal(revoked?.detail.purpose, caSide.kind === "ca-side" ? caSide.purpose : null, "the CA side's purpose is audited");
  });

  it("own municipality still works; a 409 about state comes only after the scope check", async () => {
    const w = world();
    assert.equal((await w.lookup.read(clerk, shinjuku, "0a01")).serial, "0a01");
    assert.equal((await w.revocation.revoke(clerk, "0a01", { reason: "unspecified" }, { scope: shinjuku })).status, "revoked");
    assert.equal(kind(await w.revocation.revoke(clerk, "0a01", { reason: "unspecified" }, { scope: osaka }).catch((e: unknown) => e)), "not-found", "not 409: existence not confirmed");
  });

  it("a terminal operator on an admin workstation gets no CA-wide reach", async () => {
    const w = world();
    assert.equal(kind(await w.lookup.read(clerk, caSide, "0a09").catch((e: unknown) => e)), "forbidden");
    assert.equal(kind(await w.revocation.revoke(clerk, "0a09", { reason: "unspecified" }, { scope: caSide }).catch((e: unknown) => e)), "forbidden");
  });
});

describe("the per-operator revocation window (ca/revocation/revocation-window.ts)", () => {
  it("counts single revocations and holds per operator: the 11th within the hour is refused; an hour later it passes", async () => {
    const w = world();
    for (let n = 1; n <= 4; n++) await w.revocation.hold(clerk, `0a${n.toString(16).padStart(2, "0")}`, {}, { scope: shinjuku }); // 8 certificates
    for (const n of [5, 6]) await w.revocation.revoke(clerk, `0a${n.toString(16).padStart(2, "0")}`, { reason: "unspecified" }, { scope: shinjuku });
    const e = await w.revocation.revoke(clerk, "0a07", { reason: "unspecified" }, { scope: shinjuku }).catch((x: unknown) => x);
    assert.equal(kind(e), "conflict");
    assert.match((e as Error).message, /approval/);
    assert.equal(w.stores.db.state.certificates.get("0a07")?.status, "valid");
    // Another operator has a window of their own.
    assert.equal((await w.revocation.revoke(ops, "0a07", { reason: "unspecified" }, { scope: caSide })).status, "revoked");
    // A hold of a card (2 certificates) is refused when only 0 remain.
    assert.equal(kind(await w.revocation.hold(clerk, "0a08", {}, { scope: shinjuku }).catch((x: unknown) => x)), "conflict");
    w.clock.set(new Date(T0.getTime() + 3_601_000));
    assert.equal((await w.revocation.revoke(clerk, "0a08", { reason: "unspecified" }, { scope: shinjuku })).status, "revoked", "the window slides");
  });

  it("revocations executed through an approval neither count nor are refused", async () => {
    const w = world();
    for (let n = 1; n <= 12; n++) {
      const serial = `0b${n.toString(16).padStart(2, "0")}`;
      assert.equal((await w.revocation.revoke(ops, serial, { reason: "keyCompromise" }, { scope: caSide, approvalId: "ap-1" })).status, "revoked");
    }
    assert.equal((await w.revocation.revoke(ops, "0a01", { reason: "keyCompromise" }, { scope: caSide })).status, "revoked");
  });
});

describe("start-up: every active terminal has a municipality", () => {
  it("refuses naming the terminals (ids only); revoked ones do not matter", () => {
    assert.doesNotThrow(() => assertTerminalsHaveMunicipality([{ terminalId: "a", municipalityCode: "131041", status: "active" }, { terminalId: "old", municipalityCode: null, status: "revoked" }]));
    assert.throws(
      () => assertTerminalsHaveMunicipality([{ terminalId: "legacy-7", municipalityCode: null, status: "active" }, { terminalId: "a", municipalityCode: "131041", status: "active" }]),
      (e: unknown) => kind(e) === "invalid-input" && /legacy-7/.test((e as Error).message) && !/\ba\b,/.test((e as Error).message),
    );
  });
});
