import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { normalizeFingerprint } from "../../../../ca/operators/certificate-fingerprint.js";
import { assertClientRegistered, ClientRegister } from "../../../../ca/operators/client-register.js";
import { CaError } from "../../../../ca/errors.js";
import type { OperatorPrincipal } from "../../../../ca/operators/operator-principal.js";
import { FixedClock, type Random } from "../../../../ca/ports.js";
import { buildServiceCaCertificate } from "../../../../ca/operators/service-ca.js";
import { MemorySigner } from "../../../../hsm/memory-signer.js";
import { MemoryClientCertificateStore } from "../../../support/memory-client-certificates.js";
import { createMemoryOperatorStores } from "../../../support/memory-operator-stores.js";

const random: Random = { bytes: (n) => new Uint8Array(randomBytes(n)) };
const T0 = new Date("2026-11-24T00:30:00Z");
const principal = (roles: OperatorPrincipal["roles"]): OperatorPrincipal => ({ operatorId: "x", roles, mustChangePassword: false, sessionTokenHash: "0".repeat(64), terminalFingerprint: "0".repeat(64), expiresAt: T0 });

describe("ca/client-register", function () {
  this.timeout(30_000);
  let store: MemoryClientCertificateStore;
  let register: ClientRegister;
  let ops: ReturnType<typeof createMemoryOperatorStores>;

  beforeEach(async () => {
    const signer = MemorySigner.generate({ type: "ec", curve: "P-256" });
    const certificate = await buildServiceCaCertificate({ signer, serial: 1n, notBefore: new Date("2026-01-01T00:00:00Z") });
    store = new MemoryClientCertificateStore();
    ops = createMemoryOperatorStores();
    register = new ClientRegister({ store, sessions: ops.sessions, audit: ops.audit, transactions: ops.transactions, clock: new FixedClock(T0), random, serviceCa: () => ({ signer, certificate }) });
  });

  it("enrols an admin workstation: the register holds the certificate's fingerprint, and only that certificate passes", async () => {
    const e = await register.enrol("cli", { kind: "admin", clientId: "ws-01" });
    assert.equal(e.record.status, "active");
    const presented = { fingerprint: e.record.clientCertFingerprint.toUpperCase().match(/../g)!.join(":") };
    const record = await store.get("admin", "ws-01");
    assertClientRegistered(record, presented);
    assert.throws(() => assertClientRegistered(record, { fingerprint: "ab".repeat(32) }), (err: unknown) => err instanceof CaError && err.kind === "forbidden");
    assert.throws(() => assertClientRegistered(undefined, presented), (err: unknown) => err instanceof CaError && err.kind === "forbidden");
    const audit = await ops.audit.range(1, 100);
    assert.deepEqual(audit.map((a) => a.action), ["client-certificate.registered"]);
    assert.equal(normalizeFingerprint(presented.fingerprint), e.record.clientCertFingerprint);
  });

  it("revokes: the certificate no longer passes, its sessions end, and the id can be enrolled again", async () => {
    const e = await register.enrol("cli", { kind: "feed", clientId: "feed-1" });
    await ops.operators.insert({ operatorId: "op", displayName: null, roles: ["ca-operator"], passwordHash: "x", mustChangePassword: false, createdAt: T0 });
    await ops.sessions.insert({ tokenHash: "1".repeat(64), operatorId: "op", terminalFingerprint: e.record.clientCertFingerprint, createdAt: T0 });
    await register.revoke("cli", "feed", "feed-1");
    const record = await store.get("feed", "feed-1");
    assert.throws(() => assertClientRegistered(record, { fingerprint: e.record.clientCertFingerprint }));
    assert.notEqual((await ops.sessions.get("1".repeat(64)))?.endedAt, null);
    await assert.rejects(register.revoke("cli", "feed", "feed-1"), (err: unknown) => err instanceof CaError && err.kind === "not-found");
    assert.equal((await register.enrol("cli", { kind: "feed", clientId: "feed-1" })).record.status, "active");
  });

  it("is administered by the security officer only (and the local CLI)", async () => {
    for (const roles of [["ca-operator"], ["ca-admin"], ["auditor"], ["terminal-operator"]] as const) {
      await assert.rejects(register.enrol(principal(roles), { kind: "admin", clientId: "ws-02" }), (err: unknown) => err instanceof CaError && err.kind === "forbidden");
    }
    assert.ok(await register.enrol(principal(["security-officer"]), { kind: "admin", clientId: "ws-02" }));
    await assert.rejects(register.enrol("cli", { kind: "admin", clientId: "ws-02" }), (err: unknown) => err instanceof CaError && err.kind === "conflict");
  });

  it("registers only a certificate whose OU is the kind asked for", async () => {
    const e = await register.enrol("cli", { kind: "feed", clientId: "feed-9" });
    await assert.rejects(register.register("cli", { kind: "admin", certificate: e.certificate }), (err: unknown) => err instanceof CaError && err.kind === "invalid-input");
  });
});
