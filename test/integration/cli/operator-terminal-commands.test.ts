import assert from "node:assert/strict";
import { randomBytes, X509Certificate, createPrivateKey } from "node:crypto";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseClientIdentity } from "../../../ca/operators/client-identity.js";
import { CaError } from "../../../ca/errors.js";
import { FixedClock, type Random } from "../../../ca/ports.js";
import { buildServiceCaCertificate } from "../../../ca/operators/service-ca.js";
import { fromPem } from "../../../ca/x509/pem.js";
import { operatorAdd, operatorAuthOf, operatorUnlock } from "../../../cli/operator-commands.js";
import { terminalEnrol, terminalRevoke, type TerminalCliService } from "../../../cli/terminal-commands.js";
import { KnexAuditStore } from "../../../db/audit-store.js";
import { KnexTerminalStore } from "../../../db/terminal-store.js";
import { KnexOperatorStore } from "../../../db/operator-store.js";
import { MemorySigner } from "../../../hsm/memory-signer.js";
import { openTestDatabase, type TestDatabase } from "../../support/database.js";

/** The operator and terminal CLI commands against PGlite, as `npm run cli -- …` runs them. */
describe("cli operator and terminal commands", function () {
  this.timeout(120_000);
  const random: Random = { bytes: (n) => new Uint8Array(randomBytes(n)) };
  const dir = `var/test/cli-terminals-${randomBytes(4).toString("hex")}`;
  let t: TestDatabase;
  let service: TerminalCliService;
  let lines: string[];
  const print = (line: string): void => void lines.push(line);
  const terminal = { id: "counter-01", fingerprint: "cd".repeat(32) };

  before(async () => {
    t = await openTestDatabase("pglite");
    const signer = MemorySigner.generate({ type: "ec", curve: "P-256" });
    const certificate = await buildServiceCaCertificate({ signer, serial: 1n, notBefore: new Date("2026-01-01T00:00:00Z") });
    service = {
      db: t.db,
      clock: new FixedClock(new Date("2026-11-24T00:30:00Z")),
      random,
      config: { varDir: dir },
      stores: { audit: new KnexAuditStore(t.db) },
      serviceCa: { signer, certificate },
    };
    await mkdir(dir, { recursive: true });
  });
  after(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    lines = [];
  });

  it("operator add prints a one-time password that logs in once and must be changed", async () => {
    assert.equal(await operatorAdd(service, ["tanaka", "--role", "terminal-operator,auditor"], print), 0);
    const otp = /one-time password .*: (\S+)$/.exec(lines.find((l) => l.includes("one-time password")) ?? "")?.[1];
    assert.ok(otp);
    const r = await operatorAuthOf(service).login({ operatorId: "tanaka", password: otp, terminal });
    assert.equal(r.mustChangePassword, true);
    const added = (await new KnexAuditStore(t.db).range(1, 100)).find((e) => e.action === "operator.added");
    assert.deepEqual([added?.actor, added?.subject], ["cli", "operator:tanaka"]);
    assert.equal(JSON.stringify(added).includes(otp), false);
  });

  it("operator add --password-file --ready takes the file's password without forcing a change", async () => {
    const file = join(dir, "pw.txt");
    await writeFile(file, "Kq7#mZp2xW9v\n", { mode: 0o600 });
    assert.equal(await operatorAdd(service, ["suzuki", "--role", "ca-operator", "--password-file", file, "--ready"], print), 0);
    assert.equal(lines.some((l) => l.includes("one-time password")), false);
    const r = await operatorAuthOf(service).login({ operatorId: "suzuki", password: "Kq7#mZp2xW9v", terminal });
    assert.equal(r.mustChangePassword, false);
  });

  it("operator add refuses separated duties and a missing --role", async () => {
    await assert.rejects(operatorAdd(service, ["kato", "--role", "security-officer,ca-admin"], print), (e: unknown) => e instanceof CaError && e.kind === "unprocessable");
    await assert.rejects(operatorAdd(service, ["kato"], print), /usage: operator add/);
  });

  it("operator unlock clears a lockout", async () => {
    const auth = operatorAuthOf(service);
    for (const pw of ["x1", "x2", "x3"]) await auth.login({ operatorId: "suzuki", password: pw, terminal }).catch(() => undefined);
    // Issue 12: a locked account answers like a wrong password (401); the lock is in the record.
    await assert.rejects(auth.login({ operatorId: "suzuki", password: "Kq7#mZp2xW9v", terminal }), (e: unknown) => e instanceof CaError && e.kind === "unauthenticated");
    assert.notEqual((await new KnexOperatorStore(t.db).get("suzuki"))?.lockedAt, null);
    assert.equal(await operatorUnlock(service, ["suzuki"], print), 0);
    await auth.login({ operatorId: "suzuki", password: "Kq7#mZp2xW9v", terminal });
    await assert.rejects(operatorUnlock(service, ["nobody"], print), (e: unknown) => e instanceof CaError && e.kind === "not-found");
  });

  it("terminal enrol writes <id>.pem and a mode-600 <id>.key, and records the terminal; revoke marks it", async () => {
    assert.equal(await terminalEnrol(service, ["shinjuku-01", "--municipality", "131041"], print), 0);
    const certPem = await readFile(join(dir, "terminals", "shinjuku-01.pem"), "utf8");
    const keyPath = join(dir, "terminals", "shinjuku-01.key");
    assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
    const der = fromPem(certPem, "CERTIFICATE");
    assert.deepEqual(parseClientIdentity(der), { role: "terminal", id: "shinjuku-01", municipalityCode: "131041" });
    const x = new X509Certificate(der);
    assert.equal(x.checkPrivateKey(createPrivateKey(await readFile(keyPath, "utf8"))), true);
    assert.equal(x.checkIssued(new X509Certificate(service.serviceCa.certificate)), true);
    const record = await new KnexTerminalStore(t.db).get("shinjuku-01");
    assert.deepEqual([record?.status, record?.clientCertSerial, record?.municipalityCode], ["active", x.serialNumber.toLowerCase(), "131041"]);
    assert.equal(record?.clientCertFingerprint, x.fingerprint256.replace(/:/g, "").toLowerCase());

    // Issue 12 §1: a terminal serves exactly one municipality; enrolment without one is refused.
    await assert.rejects(terminalEnrol(service, ["shinjuku-02"], print), (e: unknown) => e instanceof CaError && e.kind === "invalid-input" && e.field === "municipality");
    await assert.rejects(terminalEnrol(service, ["shinjuku-01", "--municipality", "131041"], print), (e: unknown) => e instanceof CaError && e.kind === "conflict");
    assert.equal(await terminalRevoke(service, ["shinjuku-01"], print), 0);
    assert.equal((await new KnexTerminalStore(t.db).get("shinjuku-01"))?.status, "revoked");
    await assert.rejects(terminalRevoke(service, ["shinjuku-01"], print), (e: unknown) => e instanceof CaError && e.kind === "not-found");
    // Re-enrolment after revocation needs the old files moved away first.
    await assert.rejects(terminalEnrol(service, ["shinjuku-01", "--municipality", "131041"], print), /exists: move it away/);
    assert.equal(await terminalEnrol(service, ["shinjuku-01", "--municipality", "131041", "--out", join(dir, "new")], print), 0);
    assert.equal((await new KnexTerminalStore(t.db).get("shinjuku-01"))?.status, "active");
  });
});
