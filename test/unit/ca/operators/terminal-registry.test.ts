import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, randomBytes, X509Certificate } from "node:crypto";
import { parseClientIdentity } from "../../../../ca/operators/client-identity.js";
import { certificateFingerprint } from "../../../../ca/operators/certificate-fingerprint.js";
import { CaError } from "../../../../ca/errors.js";
import { defaultOperatingSchedule, parseHolidayCalendar } from "../../../../ca/operators/operating-hours.js";
import type { TerminalRecord } from "../../../../ca/operators/operator-ports.js";
import type { OperatorPrincipal } from "../../../../ca/operators/operator-principal.js";
import { FixedClock, type Random } from "../../../../ca/ports.js";
import { buildServiceCaCertificate } from "../../../../ca/operators/service-ca.js";
import { assertTerminalMayOperate } from "../../../../ca/operators/terminal-access.js";
import { TerminalRegistry } from "../../../../ca/operators/terminal-registry.js";
import { MemorySigner } from "../../../../hsm/memory-signer.js";
import { createMemoryOperatorStores } from "../../../support/memory-operator-stores.js";

const random: Random = { bytes: (n) => new Uint8Array(randomBytes(n)) };
const T0 = new Date("2026-11-24T00:30:00Z"); // Tuesday 09:30 JST
const holidays = parseHolidayCalendar(["2026-11-23"]);

describe("ca/terminal-registry and ca/terminal-access", () => {
  let stores: ReturnType<typeof createMemoryOperatorStores>;
  let registry: TerminalRegistry;
  let caDer: Uint8Array;
  before(async () => {
    const signer = MemorySigner.generate({ type: "ec", curve: "P-256" });
    caDer = await buildServiceCaCertificate({ signer, serial: 1n, notBefore: new Date("2026-01-01T00:00:00Z") });
    stores = createMemoryOperatorStores();
    registry = new TerminalRegistry({ ...stores, clock: new FixedClock(T0), random, serviceCa: { signer, certificate: caDer } });
  });

  it("enrols: a P-256 client certificate OU=terminal from the service CA, recorded and audited", async () => {
    const e = await registry.enrol("cli", { terminalId: "shinjuku-01", municipalityCode: "131041" });
    const x = new X509Certificate(e.certificate);
    assert.equal(x.checkIssued(new X509Certificate(caDer)), true);
    assert.equal(x.verify(new X509Certificate(caDer).publicKey), true);
    assert.deepEqual(parseClientIdentity(e.certificate), { role: "terminal", id: "shinjuku-01", municipalityCode: "131041" });
    assert.equal(x.serialNumber.toLowerCase(), e.record.clientCertSerial);
    assert.match(e.record.clientCertSerial, /^[4-7][0-9a-f]{31}$/);
    const key = createPrivateKey({ key: Buffer.from(e.privateKeyPkcs8), format: "der", type: "pkcs8" });
    assert.equal(key.asymmetricKeyDetails?.namedCurve, "prime256v1");
    assert.equal(createPublicKey(key).export({ format: "der", type: "spki" }).equals(x.publicKey.export({ format: "der", type: "spki" })), true);
    assert.deepEqual(await stores.terminals.get("shinjuku-01"), e.record);
    assert.equal(e.record.clientCertFingerprint, certificateFingerprint(e.certificate));
    assert.equal(x.fingerprint256.replace(/:/g, "").toLowerCase(), e.record.clientCertFingerprint);
    const entry = (await stores.audit.range(1, 100)).at(-1);
    assert.deepEqual([entry?.action, entry?.actor, entry?.subject], ["terminal.enrolled", "cli", "terminal:shinjuku-01"]);
  });

  it("refuses a second enrolment while active, re-enrols after revocation, ends sessions on revoke", async () => {
    await assert.rejects(registry.enrol("cli", { terminalId: "shinjuku-01", municipalityCode: "131041" }), (e: unknown) => e instanceof CaError && e.kind === "conflict");
    const old = (await stores.terminals.get("shinjuku-01"))!;
    await stores.operators.insert({ operatorId: "op", displayName: null, roles: ["terminal-operator"], passwordHash: "x", mustChangePassword: false, createdAt: T0 });
    await stores.sessions.insert({ tokenHash: "a".repeat(64), operatorId: "op", terminalFingerprint: old.clientCertFingerprint, createdAt: T0 });
    await registry.revoke("cli", "shinjuku-01");
    assert.equal((await stores.sessions.get("a".repeat(64)))?.endedAt?.getTime(), T0.getTime());
    await assert.rejects(registry.revoke("cli", "shinjuku-01"), (e: unknown) => e instanceof CaError && e.kind === "not-found");
    const again = await registry.enrol("cli", { terminalId: "shinjuku-01", municipalityCode: "131041" });
    assert.notEqual(again.record.clientCertSerial, old.clientCertSerial);
    // The old certificate still passes TLS; the app refuses it.
    assert.throws(() => assertTerminalMayOperate(again.record, { fingerprint: old.clientCertFingerprint }, T0, holidays), /not the one enrolled/);
  });

  it("needs the ca-operator role", async () => {
    const auditor = { operatorId: "a", roles: ["auditor"] } as unknown as OperatorPrincipal;
    await assert.rejects(registry.enrol(auditor, { terminalId: "x-1", municipalityCode: "131041" }), (e: unknown) => e instanceof CaError && e.kind === "forbidden" && /ca-operator/.test(e.message));
  });

  describe("assertTerminalMayOperate", () => {
    const record: TerminalRecord = {
      terminalId: "t",
      municipalityCode: null,
      clientCertSerial: "41",
      clientCertFingerprint: "ab".repeat(32),
      status: "active",
      operatingHours: null,
      enrolledAt: T0,
      revokedAt: null,
    };
    const presented = { fingerprint: "AB:".repeat(31) + "AB" };
    const forbidden = (detail: RegExp) => (e: unknown) => e instanceof CaError && e.kind === "forbidden" && detail.test(e.message);

    it("passes an active terminal with its certificate within hours", () => {
      assertTerminalMayOperate(record, presented, T0, holidays);
    });
    it("refuses unknown, revoked, outside hours and holidays", () => {
      assert.throws(() => assertTerminalMayOperate(undefined, presented, T0, holidays), forbidden(/not enrolled/));
      assert.throws(() => assertTerminalMayOperate({ ...record, status: "revoked" }, presented, T0, holidays), forbidden(/revoked/));
      assert.throws(() => assertTerminalMayOperate(record, presented, new Date("2026-11-24T08:15:01Z"), holidays), forbidden(/^outside operating hours$/));
      assert.throws(() => assertTerminalMayOperate(record, presented, new Date("2026-11-23T00:30:00Z"), holidays), forbidden(/outside operating hours/));
    });
    it("uses the terminal's own schedule when it has one", () => {
      const late = { ...record, operatingHours: { ...defaultOperatingSchedule, close: "20:00" } };
      assertTerminalMayOperate(late, presented, new Date("2026-11-24T10:00:00Z"), holidays); // 19:00 JST
    });
  });
});
