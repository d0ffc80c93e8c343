import assert from "node:assert/strict";
import { CaError } from "../../ca/errors.js";
import type { Actor, OperatorPrincipal } from "../../ca/operators/operator-principal.js";
import type { OperatorRole } from "../../ca/operators/roles.js";
import type { OutboxTopic, OutboxWriter } from "../../ca/revocation/outbox.js";
import type { CertificateReleaseStore } from "../../ca/revocation/phone-cascade.js";
import { RevocationService, type ManualRevocationRequest } from "../../ca/revocation/revocation-service.js";
import { FixedClock } from "../../ca/ports.js";
import type { AccessScope } from "../../ca/access/resident-access.js";
import type { Tx } from "../../ca/stores.js";
import type { CaKind, CertificateRecord, CertificateStatus } from "../../ca/types.js";
import { createMemoryStores } from "../support/memory-stores.js";
import { MemoryResidentMunicipalities, memoryRevocationWindow } from "../support/memory-resident-access.js";
import { certificate, residentCode, T0 } from "../support/resident-event-fixtures.js";

/**
 * Operator revocation and hold of card certificates take the resident's phone certificates along (issue
 * #16 item 1, ca/revocation/revocation-service.ts), and a phone user-auth hold is lifted by its holder.
 */
const operator = (...roles: OperatorRole[]): OperatorPrincipal => ({
  operatorId: `op-${roles.join("-")}`,
  roles,
  mustChangePassword: false,
  sessionTokenHash: "00",
  terminalFingerprint: "AA",
  expiresAt: new Date("2030-01-01T00:00:00Z"),
});
const clerk = operator("terminal-operator");
const caOperator = operator("ca-operator");
const terminal: AccessScope = { kind: "terminal", terminalId: "counter-01", municipalityCode: "131041" };
const caSide: AccessScope = { kind: "ca-side", clientId: "admin:ws-01", purpose: "test" };
const scopeOf = (actor: Actor): AccessScope => (actor !== "cli" && actor.roles.includes("terminal-operator") ? terminal : caSide);
const problem = async (p: Promise<unknown>): Promise<{ kind: string; field: string | undefined }> => {
  const e = await p.then(() => undefined, (err: unknown) => err);
  assert.ok(e instanceof CaError, `expected a CaError, got ${String(e)}`);
  return { kind: e.kind, field: (e as CaError & { field?: string }).field };
};

const code = residentCode(7);
const phone = (serial: string, kind: CaKind, status: CertificateStatus = "valid"): CertificateRecord => ({ ...certificate(serial, kind, { residentCode: code, status }), device: "phone" });

function setup(options: { releases?: boolean } = {}) {
  const stores = createMemoryStores();
  const outbox: Array<{ topic: OutboxTopic; payload: Record<string, unknown> }> = [];
  const writer: OutboxWriter = { add: async (topic, payload, tx?: Tx) => stores.db.run(tx, () => void outbox.push({ topic, payload: { ...payload } })) };
  for (const c of [certificate("0a07", "sign", { residentCode: code }), certificate("0b07", "auth", { residentCode: code }), phone("1a07", "sign"), phone("1b07", "auth")]) {
    stores.db.state.certificates.set(c.serial, c);
  }
  // The lift in memory, as db/revocation-release-store.ts does it in one statement.
  const versions = new Map<string, number>();
  const releases: CertificateReleaseStore = {
    release: async (serial, _at, tx) =>
      stores.db.run(tx, (s) => {
        const c = s.certificates.get(serial);
        if (!c || c.status !== "hold" || c.device !== "phone" || c.kind !== "auth") return false;
        s.certificates.set(serial, { ...c, status: "valid", revokedAt: null, revocationReason: null, invalidityDate: null });
        versions.set(serial, (versions.get(serial) ?? 0) + 1);
        return true;
      }),
  };
  const residents = new MemoryResidentMunicipalities();
  residents.byResident.set(code, "131041");
  const service = new RevocationService({
    clock: new FixedClock(new Date(T0.getTime() + 123)),
    transactions: stores.db,
    certificates: stores.certificates,
    audit: stores.audit,
    outbox: writer,
    residents,
    window: memoryRevocationWindow(() => stores.db.state.audit),
    ...(options.releases === false ? {} : { releases }),
  });
  return {
    stores,
    outbox,
    versions,
    service,
    revoke: (actor: Actor, serial: string, request: ManualRevocationRequest) => service.revoke(actor, serial, request, { scope: scopeOf(actor) }),
    hold: (actor: Actor, serial: string) => service.hold(actor, serial, {}, { scope: scopeOf(actor) }),
    status: (s: string) => {
      const c = stores.db.state.certificates.get(s)!;
      return [c.status, c.revocationReason];
    },
    audit: () => stores.db.state.audit.map((e) => [e.action, e.subject, e.outcome]),
  };
}

describe("revocation cascade: operators revoke and hold card certificates, the phone's follow", function () {
  it("revoking the card signing certificate revokes the phone signing certificate with the same reason, in one transaction, and no user-auth one", async function () {
    const w = setup();
    await w.revoke(clerk, "0a07", { reason: "keyCompromise" });
    assert.deepEqual(w.status("1a07"), ["revoked", "keyCompromise"]);
    assert.deepEqual(w.status("1b07"), ["valid", null]);
    assert.deepEqual(w.status("0b07"), ["valid", null]);
    assert.deepEqual(w.outbox.map((o) => [o.topic, o.payload.serial, o.payload.reason]), [
      ["certificate.revoked", "0a07", "keyCompromise"],
      ["certificate.revoked", "1a07", "keyCompromise"],
    ]);
    assert.deepEqual(w.audit(), [
      ["certificate.revoked.cascaded", "certificate:1a07", "success"],
      ["certificate.revoked", "certificate:0a07", "success"],
    ]);
    assert.deepEqual(w.stores.db.state.audit.at(-1)!.detail.cascaded, ["1a07"]);
  });

  it("revoking the card user-auth certificate revokes a HELD phone user-auth certificate too", async function () {
    const w = setup();
    await w.hold(caOperator, "1b07");
    await w.revoke(caOperator, "0b07", { reason: "cessationOfOperation" });
    assert.deepEqual(w.status("1b07"), ["revoked", "cessationOfOperation"]);
    assert.deepEqual(w.status("1a07"), ["valid", null]);
  });

  it("a card hold (lost card) holds the phone pair too; the window counts the card's two, as before phones", async function () {
    const w = setup();
    const held = await w.hold(clerk, "0a07");
    assert.deepEqual(held.map((c) => [c.serial, c.status]), [
      ["0a07", "hold"],
      ["0b07", "hold"],
      ["1a07", "hold"],
      ["1b07", "hold"],
    ]);
    assert.deepEqual(w.outbox.map((o) => [o.topic, o.payload.serial]), [
      ["certificate.held", "0a07"],
      ["certificate.held", "0b07"],
      ["certificate.held", "1a07"],
      ["certificate.held", "1b07"],
    ]);
    const entry = w.stores.db.state.audit.find((e) => e.action === "certificate.held")!;
    assert.deepEqual(entry.detail.serials, ["0a07", "0b07"]);
    assert.deepEqual(entry.detail.cascaded, ["1a07", "1b07"]);
    assert.equal(await memoryRevocationWindow(() => w.stores.db.state.audit).lockAndCount("operator:op-terminal-operator", new Date(0), undefined), 2);
  });

  it("revoking or holding a PHONE certificate touches that certificate only", async function () {
    const w = setup();
    await w.hold(caOperator, "1b07");
    assert.deepEqual(["0a07", "0b07", "1a07", "1b07"].map((s) => w.status(s)[0]), ["valid", "valid", "valid", "hold"]);
    await w.revoke(caOperator, "1a07", { reason: "unspecified" });
    assert.deepEqual(["0a07", "0b07", "1a07", "1b07"].map((s) => w.status(s)[0]), ["valid", "valid", "revoked", "hold"]);
    assert.deepEqual(w.outbox.map((o) => o.payload.serial), ["1b07", "1a07"]);
  });
});

describe("lifting a phone user-auth hold (RevocationService.liftPhoneHold)", function () {
  it("hold → valid in one transaction: reason cleared, version raised, outbox certificate.released, audited", async function () {
    const w = setup();
    await w.hold(caOperator, "1b07");
    const lifted = await w.service.liftPhoneHold("holder:0a07", "1b07", { clientId: "holder-portal:mp", residentCode: code, requestRef: "digest-1" });
    assert.equal(lifted.status, "valid");
    assert.equal(lifted.revocationReason, null);
    assert.equal(lifted.revokedAt, null);
    assert.equal(w.versions.get("1b07"), 1);
    assert.deepEqual(w.outbox.at(-1), { topic: "certificate.released", payload: { serial: "1b07", caId: "auth-g1", partition: 3 } });
    const entry = w.stores.db.state.audit.at(-1)!;
    assert.deepEqual([entry.action, entry.actor, entry.subject, entry.outcome], ["certificate.released", "holder:0a07", "certificate:1b07", "success"]);
    assert.equal(entry.detail.requestRef, "digest-1");
    // A revocation after the lift still works (and a second lift of a valid certificate is a conflict).
    assert.deepEqual(await problem(w.service.liftPhoneHold("holder:0a07", "1b07")), { kind: "conflict", field: "serial" });
    await w.revoke(caOperator, "1b07", { reason: "unspecified" });
    assert.deepEqual(w.status("1b07"), ["revoked", "unspecified"]);
  });

  it("a card hold is never released; a phone signing hold neither; each refusal names serial and is audited", async function () {
    const w = setup();
    await w.hold(clerk, "0a07"); // all four held
    assert.deepEqual(await problem(w.service.liftPhoneHold("holder:0a07", "0b07")), { kind: "unprocessable", field: "serial" });
    assert.deepEqual(await problem(w.service.liftPhoneHold("holder:0a07", "1a07")), { kind: "unprocessable", field: "serial" });
    assert.deepEqual(await problem(w.service.liftPhoneHold("holder:0a07", "ffff")), { kind: "not-found", field: "serial" });
    assert.deepEqual(await problem(w.service.liftPhoneHold("holder:0a07", "1b07", { residentCode: residentCode(8) })), { kind: "not-found", field: "serial" }, "another resident's serial is unknown");
    assert.deepEqual(["0a07", "0b07", "1a07", "1b07"].map((s) => w.status(s)[0]), ["hold", "hold", "hold", "hold"]);
    assert.equal(w.stores.db.state.audit.filter((e) => e.action === "certificate.released" && e.outcome === "denied").length, 4);
    assert.equal(w.outbox.filter((o) => o.topic === "certificate.released").length, 0);
  });

  it("an operator may place a phone hold but not lift it; without a release store it is refused", async function () {
    const w = setup();
    await w.hold(caOperator, "1b07");
    assert.deepEqual(await problem(w.service.liftPhoneHold(caOperator, "1b07")), { kind: "forbidden", field: "serial" });
    assert.equal((await w.service.liftPhoneHold("cli", "1b07")).status, "valid", "the CLI on the CA host may");
    const without = setup({ releases: false });
    await without.hold(caOperator, "1b07");
    assert.deepEqual(await problem(without.service.liftPhoneHold("holder:0a07", "1b07")), { kind: "unprocessable", field: "serial" });
  });

  it("runs in the caller's transaction when given one: rolled back with it", async function () {
    const w = setup();
    await w.hold(caOperator, "1b07");
    await assert.rejects(
      w.stores.db.transaction(async (tx) => {
        await w.service.liftPhoneHold("holder:0a07", "1b07", { tx });
        throw new Error("the route's replay check failed");
      }),
      /replay check/,
    );
    assert.deepEqual(w.status("1b07"), ["hold", "certificateHold"]);
    assert.equal(w.stores.db.state.audit.filter((e) => e.action === "certificate.released").length, 0, "no audit entry, not even a denial: the caller audits");
  });
});
