import assert from "node:assert/strict";
import { CaError } from "../../../ca/errors.js";
import type { OperatorPrincipal } from "../../../ca/operators/operator-principal.js";
import type { OutboxTopic, OutboxWriter } from "../../../ca/revocation/outbox.js";
import { FixedClock } from "../../../ca/ports.js";
import type { Actor } from "../../../ca/operators/operator-principal.js";
import type { AccessScope } from "../../../ca/access/resident-access.js";
import { RevocationService, type ManualRevocationRequest, type RevocationContext } from "../../../ca/revocation/revocation-service.js";
import type { OperatorRole } from "../../../ca/operators/roles.js";
import type { Tx } from "../../../ca/stores.js";
import { createMemoryStores } from "../../support/memory-stores.js";
import { MemoryResidentMunicipalities, memoryRevocationWindow } from "../../support/memory-resident-access.js";
import { certificate, residentCode, T0 } from "../../support/resident-event-fixtures.js";

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
const auditor = operator("auditor");

const kind = (e: unknown): string => (e instanceof CaError ? e.kind : "not a CaError");

/** Terminal operators at a counter of 131041 (the residents' municipality); others CA-side. */
const scopeOf = (actor: Actor): AccessScope =>
  actor !== "cli" && actor.roles.includes("terminal-operator")
    ? { kind: "terminal", terminalId: "counter-01", municipalityCode: "131041" }
    : { kind: "ca-side", clientId: "admin:ws-01", purpose: "test" };

function setup(options: { failOutbox?: boolean } = {}) {
  const stores = createMemoryStores();
  const outbox: Array<{ topic: OutboxTopic; payload: Record<string, unknown> }> = [];
  const writer: OutboxWriter = {
    add: async (topic, payload, tx?: Tx) =>
      stores.db.run(tx, () => {
        if (options.failOutbox) throw new Error("outbox down");
        outbox.push({ topic, payload: { ...payload } });
      }),
  };
  const code = residentCode(7);
  for (const c of [certificate("0a07", "sign", { residentCode: code }), certificate("0b07", "auth", { residentCode: code }), certificate("0c07", "auth", { residentCode: code, status: "pending" })]) {
    stores.db.state.certificates.set(c.serial, c);
  }
  const residents = new MemoryResidentMunicipalities();
  residents.byResident.set(code, "131041");
  const real = new RevocationService({
    clock: new FixedClock(new Date(T0.getTime() + 123)),
    transactions: stores.db,
    certificates: stores.certificates,
    audit: stores.audit,
    outbox: writer,
    residents,
    window: memoryRevocationWindow(() => stores.db.state.audit),
  });
  // The scope follows from the operator's role unless a test gives one.
  const service = {
    revoke: (actor: Actor, serial: string, request: ManualRevocationRequest, context?: Partial<RevocationContext>) => real.revoke(actor, serial, request, { scope: scopeOf(actor), ...context }),
    hold: (actor: Actor, serial: string, request: { comment?: string | null } = {}, context?: Partial<RevocationContext>) => real.hold(actor, serial, request, { scope: scopeOf(actor), ...context }),
  };
  return { stores, outbox, service, residents, status: (s: string) => stores.db.state.certificates.get(s)! };
}

/** docs/domain.md §3, the lines decided by operators rather than events. */
describe("manual revocation and hold: docs/domain.md §3 table", function () {
  it("holder requests revocation at the counter: unspecified, either kind, by a terminal operator", async function () {
    const { service, status, outbox } = setup();
    const signing = await service.revoke(clerk, "0a07", { reason: "unspecified", comment: "本人の申請" }, { clientId: "counter-01" });
    assert.equal(signing.status, "revoked");
    assert.equal(signing.revocationReason, "unspecified");
    assert.equal(signing.revokedAt?.toISOString(), T0.toISOString(), "whole seconds");
    assert.equal((await service.revoke(clerk, "0b07", { reason: "unspecified" })).status, "revoked");
    assert.equal(status("0c07").status, "pending", "only the named certificate");
    assert.deepEqual(outbox.map((o) => o.payload.serial), ["0a07", "0b07"]);
    assert.deepEqual(outbox[0], { topic: "certificate.revoked", payload: { serial: "0a07", caId: "sign-g1", partition: 3, reason: "unspecified" } });
  });

  it("private key compromise reported: keyCompromise, by a terminal operator", async function () {
    const { service } = setup();
    assert.equal((await service.revoke(clerk, "0b07", { reason: "keyCompromise" })).revocationReason, "keyCompromise");
  });

  it("card lost: both certificates of the card on hold (certificateHold), never released, later replaced by a revocation", async function () {
    const { service, status, outbox, stores } = setup();
    const held = await service.hold(clerk, "0a07", { comment: "24時間窓口" });
    assert.deepEqual(held.map((c) => [c.serial, c.status, c.revocationReason]), [
      ["0a07", "hold", "certificateHold"],
      ["0b07", "hold", "certificateHold"],
    ]);
    assert.equal(status("0c07").status, "pending", "an issuance in flight is a replacement card");
    assert.deepEqual(outbox.map((o) => o.topic), ["certificate.held", "certificate.held"]);
    assert.equal(kind(await service.hold(clerk, "0b07").catch((e: unknown) => e)), "conflict", "already on hold");
    const revoked = await service.revoke(clerk, "0a07", { reason: "unspecified" });
    assert.equal(revoked.status, "revoked", "a later revocation replaces the hold");
    assert.equal(kind(await service.hold(clerk, "0a07").catch((e: unknown) => e)), "conflict", "a revocation is never turned back into a hold");
    const audit = stores.db.state.audit.map((e) => e.action);
    assert.deepEqual(audit, ["certificate.held", "certificate.revoked"]);
  });

  it("CA key compromise: cACompromise by a ca-operator only", async function () {
    const { service } = setup();
    assert.equal(kind(await service.revoke(clerk, "0a07", { reason: "cACompromise" }).catch((e: unknown) => e)), "forbidden");
    assert.equal((await service.revoke(caOperator, "0a07", { reason: "cACompromise" })).revocationReason, "cACompromise");
  });
});

describe("manual revocation: rules", function () {
  it("revoking a revoked certificate is a conflict (409) and changes nothing", async function () {
    const { service, stores } = setup();
    await service.revoke(caOperator, "0a07", { reason: "affiliationChanged" });
    const before = stores.db.state.audit.length;
    assert.equal(kind(await service.revoke(caOperator, "0a07", { reason: "unspecified" }).catch((e: unknown) => e)), "conflict");
    assert.equal(stores.db.state.audit.length, before);
  });

  it("refuses reasons outside docs/api.md §6, a hold through /revocation, and reasons beyond the role", async function () {
    const { service } = setup();
    for (const reason of ["privilegeWithdrawn", "removeFromCRL", "aACompromise", 5, undefined]) {
      assert.equal(kind(await service.revoke(caOperator, "0a07", { reason }).catch((e: unknown) => e)), "invalid-input", String(reason));
    }
    assert.equal(kind(await service.revoke(caOperator, "0a07", { reason: "certificateHold" }).catch((e: unknown) => e)), "unprocessable");
    for (const reason of ["affiliationChanged", "superseded", "cessationOfOperation"]) {
      assert.equal(kind(await service.revoke(clerk, "0a07", { reason }).catch((e: unknown) => e)), "forbidden", reason);
    }
    assert.equal(kind(await service.revoke(auditor, "0a07", { reason: "unspecified" }).catch((e: unknown) => e)), "forbidden");
    assert.equal(kind(await service.hold(auditor, "0a07").catch((e: unknown) => e)), "forbidden");
    assert.equal(kind(await service.revoke(clerk, "0a07", { reason: "unspecified", comment: "x".repeat(1001) }).catch((e: unknown) => e)), "invalid-input");
    assert.equal(kind(await service.revoke(clerk, "ffff", { reason: "unspecified" }).catch((e: unknown) => e)), "not-found");
  });

  it("status, audit and outbox are one transaction: no outbox, no revocation", async function () {
    const { service, status, stores } = setup({ failOutbox: true });
    await assert.rejects(service.revoke(clerk, "0a07", { reason: "unspecified" }), /outbox down/);
    assert.equal(status("0a07").status, "valid");
    assert.equal(stores.db.state.audit.length, 0);
  });
});
