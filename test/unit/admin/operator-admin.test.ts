import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { CaError, type CaErrorKind } from "../../../ca/errors.js";
import { OperatorAdmin } from "../../../ca/operator-admin.js";
import { OperatorAuth } from "../../../ca/operator-auth.js";
import type { OperatorPrincipal } from "../../../ca/operator-principal.js";
import { ScryptPasswordHasher } from "../../../ca/password-hash.js";
import { FixedClock, type Random } from "../../../ca/ports.js";
import { createMemoryOperatorStores } from "../../support/memory-operator-stores.js";

const random: Random = { bytes: (n) => new Uint8Array(randomBytes(n)) };
const T0 = new Date("2026-11-24T00:30:00Z");
const GOOD = "Kq7#mZp2xW9v";
const terminal = { id: "ws-01", fingerprint: createHash("sha256").update("ws").digest("hex") };
const rejectsWith = (kind: CaErrorKind, message?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof CaError, String(e));
  assert.equal(e.kind, kind, e.message);
  if (message) assert.match(e.message, message);
  return true;
};

describe("ca/operator-admin (security officer)", function () {
  this.timeout(20_000);
  let stores: ReturnType<typeof createMemoryOperatorStores>;
  let auth: OperatorAuth;
  let admin: OperatorAdmin;
  let officer: OperatorPrincipal;
  let caOperator: OperatorPrincipal;

  beforeEach(async () => {
    stores = createMemoryOperatorStores();
    const clock = new FixedClock(T0);
    const passwords = new ScryptPasswordHasher(random, { N: 1024, r: 8, p: 1 });
    auth = new OperatorAuth({ ...stores, clock, random, passwords });
    admin = new OperatorAdmin({ auth, ...stores, clock, random, passwords });
    for (const [id, role] of [["so", "security-officer"], ["ope", "ca-operator"]] as const) await auth.addOperator("cli", { operatorId: id, roles: [role], password: GOOD, ready: true });
    const login = async (id: string) => auth.authenticate((await auth.login({ operatorId: id, password: GOOD, terminal })).token, terminal.fingerprint);
    officer = await login("so");
    caOperator = await login("ope");
  });

  it("lets only the security officer administer operators", async () => {
    await assert.rejects(admin.list(caOperator), rejectsWith("forbidden", /security-officer/));
    await assert.rejects(admin.add(caOperator, { operatorId: "x", roles: ["auditor"] }), rejectsWith("forbidden"));
    await assert.rejects(admin.setActive(caOperator, "so", false), rejectsWith("forbidden"));
    await assert.rejects(admin.forcePasswordChange(caOperator, "so", "reset"), rejectsWith("forbidden"));
    assert.deepEqual((await admin.list(officer)).map((o) => o.operatorId), ["ope", "so"]);
  });

  it("keeps security-officer and ca-admin apart, on creation and on role change", async () => {
    await assert.rejects(admin.add(officer, { operatorId: "both", roles: ["security-officer", "ca-admin"] }), rejectsWith("unprocessable", /separation of duties/));
    await admin.add(officer, { operatorId: "adm", roles: ["ca-admin"] });
    await assert.rejects(admin.setRoles(officer, "adm", ["ca-admin", "security-officer"]), rejectsWith("unprocessable"));
    assert.deepEqual((await admin.setRoles(officer, "adm", ["ca-admin", "auditor"])).roles, ["auditor", "ca-admin"]);
  });

  it("refuses administering one's own account", async () => {
    await assert.rejects(admin.setRoles(officer, "so", ["security-officer", "auditor"]), rejectsWith("forbidden", /own roles/));
    await assert.rejects(admin.setActive(officer, "so", false), rejectsWith("forbidden"));
    await assert.rejects(admin.forcePasswordChange(officer, "so", "reset"), rejectsWith("forbidden"));
  });

  it("only the demo set-up may skip the first-logon password change", async () => {
    await assert.rejects(admin.add(officer, { operatorId: "x", roles: ["auditor"], ready: true }), rejectsWith("forbidden"));
    const r = await admin.add(officer, { operatorId: "x", roles: ["auditor"] });
    assert.equal(r.mustChangePassword, true);
    assert.ok(r.oneTimePassword);
  });

  it("deactivation ends the sessions at once; reactivation restores the account", async () => {
    const token = (await auth.login({ operatorId: "ope", password: GOOD, terminal })).token;
    const s = await admin.setActive(officer, "ope", false);
    assert.equal(s.active, false);
    await assert.rejects(auth.authenticate(token, terminal.fingerprint), rejectsWith("unauthenticated"));
    await assert.rejects(auth.login({ operatorId: "ope", password: GOOD, terminal }), rejectsWith("unauthenticated"));
    await admin.setActive(officer, "ope", true);
    assert.ok((await auth.login({ operatorId: "ope", password: GOOD, terminal })).token);
    const actions = (await stores.audit.range(1, 1000)).map((e) => e.action);
    assert.ok(actions.includes("operator.deactivated") && actions.includes("operator.reactivated"));
  });

  it("forces a password change: expire keeps the password, reset hands out a one-time one", async () => {
    await admin.forcePasswordChange(officer, "ope", "expire");
    assert.equal((await auth.login({ operatorId: "ope", password: GOOD, terminal })).mustChangePassword, true);
    const { oneTimePassword, operator } = await admin.forcePasswordChange(officer, "ope", "reset");
    assert.equal(operator.mustChangePassword, true);
    assert.ok(oneTimePassword);
    await assert.rejects(auth.login({ operatorId: "ope", password: GOOD, terminal }), rejectsWith("unauthenticated"));
    const r = await auth.login({ operatorId: "ope", password: oneTimePassword!, terminal });
    assert.equal(r.mustChangePassword, true);
  });

  it("unlocks a locked account", async () => {
    for (let i = 0; i < 3; i++) await auth.login({ operatorId: "ope", password: "wrong-password-1", terminal }).catch(() => undefined);
    assert.equal((await admin.get(officer, "ope")).locked, true);
    assert.equal((await admin.unlock(officer, "ope")).locked, false);
    await assert.rejects(admin.get(officer, "nobody"), rejectsWith("not-found"));
  });
});
