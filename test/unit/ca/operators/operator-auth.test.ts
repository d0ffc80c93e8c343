import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { CaError, type CaErrorKind } from "../../../../ca/errors.js";
import { OperatorAuth, tokenHash, type OperatorAuthDeps } from "../../../../ca/operators/operator-auth.js";
import type { OperatorPrincipal } from "../../../../ca/operators/operator-principal.js";
import { ScryptPasswordHasher, type PasswordHasher } from "../../../../ca/operators/password-hash.js";
import { checkPassword } from "../../../../ca/operators/password-policy.js";
import { FixedClock, type Random } from "../../../../ca/ports.js";
import { createMemoryOperatorStores } from "../../../support/memory-operator-stores.js";

const random: Random = { bytes: (n) => new Uint8Array(randomBytes(n)) };
const T0 = new Date("2026-11-24T00:30:00Z"); // Tuesday 09:30 JST
const GOOD = "Kq7#mZp2xW9v";
const NEW = "Hv4!tRn8sLq2";
const fp = (seed: string): string => createHash("sha256").update(seed).digest("hex");
const T1 = { id: "counter-01", fingerprint: fp("terminal-1") };
const T2 = { id: "counter-02", fingerprint: fp("terminal-2") };
const MIN = 60_000;
const DAY = 86_400_000;

const rejectsWith = (kind: CaErrorKind, message?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof CaError, `expected CaError, got ${String(e)}`);
  assert.equal(e.kind, kind, e.message);
  if (message) assert.match(e.message, message);
  return true;
};

/** Counts verify calls, to prove unknown operators cost a hash too. */
class CountingHasher implements PasswordHasher {
  verifies = 0;
  private readonly inner = new ScryptPasswordHasher(random, { N: 1024, r: 8, p: 1 });
  hash(password: string): Promise<string> {
    return this.inner.hash(password);
  }
  verify(password: string, encoded: string): Promise<boolean> {
    this.verifies++;
    return this.inner.verify(password, encoded);
  }
}

describe("ca/operator-auth", function () {
  this.timeout(30_000);
  let stores: ReturnType<typeof createMemoryOperatorStores>;
  let clock: FixedClock;
  let hasher: CountingHasher;
  let auth: OperatorAuth;
  const deps = (): OperatorAuthDeps => ({ ...stores, clock, random, passwords: hasher });

  beforeEach(async () => {
    stores = createMemoryOperatorStores();
    clock = new FixedClock(T0);
    hasher = new CountingHasher();
    auth = new OperatorAuth(deps());
    await auth.addOperator("cli", { operatorId: "tanaka", roles: ["terminal-operator"], password: GOOD, ready: true });
  });

  const audit = async () => stores.audit.range(1, 10_000);
  const login = (password = GOOD, operatorId = "tanaka", terminal = T1) => auth.login({ operatorId, password, terminal });

  describe("login", () => {
    it("opens a session bound to the terminal certificate, storing only the token's hash", async () => {
      const r = await login();
      assert.match(r.token, /^[A-Za-z0-9_-]{43}$/);
      assert.deepEqual(r.expiresAt, new Date(T0.getTime() + 15 * MIN));
      assert.equal(r.mustChangePassword, false);
      const s = await stores.sessions.get(tokenHash(r.token));
      assert.deepEqual(s, { tokenHash: tokenHash(r.token), operatorId: "tanaka", terminalFingerprint: T1.fingerprint, createdAt: T0, lastSeenAt: T0, endedAt: null });
      assert.equal(await stores.sessions.get(r.token), undefined);
      const last = (await audit()).at(-1);
      assert.deepEqual([last?.action, last?.actor, last?.outcome, last?.detail], ["operator.login", "operator:tanaka", "success", { terminal: "counter-01", mustChangePassword: false }]);
    });

    it("locks the account on the 3rd consecutive failure and then refuses the right password too, with the same 401 as a wrong password (issue 12: no enumeration)", async () => {
      await assert.rejects(login("wrong-1"), rejectsWith("unauthenticated"));
      await assert.rejects(login("wrong-2"), rejectsWith("unauthenticated"));
      await assert.rejects(login("wrong-3"), rejectsWith("unauthenticated", /locked/));
      await assert.rejects(login(GOOD), rejectsWith("unauthenticated"));
      const op = await stores.operators.get("tanaka");
      assert.equal(op?.failedAttempts, 3);
      assert.deepEqual(op?.lockedAt, T0);
      const actions = (await audit()).filter((e) => e.subject === "operator:tanaka").map((e) => `${e.action}/${e.outcome}`);
      assert.deepEqual(actions.slice(-5), ["operator.login/failure", "operator.login/failure", "operator.login/failure", "operator.locked/success", "operator.login/denied"]);
    });

    it("keeps the lockout for a new service instance over the same store (restart)", async () => {
      for (const pw of ["x1", "x2", "x3"]) await login(pw).catch(() => undefined);
      const restarted = new OperatorAuth(deps());
      await assert.rejects(restarted.login({ operatorId: "tanaka", password: GOOD, terminal: T1 }), rejectsWith("unauthenticated"));
      assert.notEqual((await stores.operators.get("tanaka"))?.lockedAt, null);
    });

    it("resets the counter on success: failures must be consecutive", async () => {
      await login("x1").catch(() => undefined);
      await login("x2").catch(() => undefined);
      await login();
      assert.equal((await stores.operators.get("tanaka"))?.failedAttempts, 0);
      await assert.rejects(login("x3"), rejectsWith("unauthenticated"));
      await assert.rejects(login("x4"), rejectsWith("unauthenticated"));
      await login();
    });

    it("answers an unknown operator exactly like a wrong password, after hashing just the same", async () => {
      const before = hasher.verifies;
      const unknown = await login(GOOD, "nobody").catch((e: Error) => e);
      const wrong = await login("wrong").catch((e: Error) => e);
      assert.ok(unknown instanceof CaError && wrong instanceof CaError);
      assert.deepEqual([unknown.kind, unknown.message], [wrong.kind, wrong.message]);
      assert.equal(hasher.verifies - before, 2);
      const entry = (await audit()).find((e) => e.actor === "unknown-operator");
      assert.equal(entry?.detail.reason, "unknown-operator");
      assert.equal(JSON.stringify(entry).includes("nobody"), false);
    });

    it("answers an inactive operator like a wrong password", async () => {
      await stores.operators.setActive("tanaka", false, T0);
      await assert.rejects(login(), rejectsWith("unauthenticated", /operator id or password is wrong/));
    });

    it("normalises the certificate fingerprint (Node's AB:CD:… form)", async () => {
      const colon = T1.fingerprint.toUpperCase().match(/../g)!.join(":");
      const r = await auth.login({ operatorId: "tanaka", password: GOOD, terminal: { id: T1.id, fingerprint: colon } });
      assert.equal((await auth.authenticate(r.token, T1.fingerprint)).operatorId, "tanaka");
    });
  });

  describe("authenticate", () => {
    it("slides a 15-minute idle timeout: exactly 15 min is valid, 15 min + 1 s has expired", async () => {
      const { token } = await login();
      clock.advance(15 * MIN);
      const p = await auth.authenticate(token, T1.fingerprint);
      assert.deepEqual(p.expiresAt, new Date(clock.now().getTime() + 15 * MIN));
      clock.advance(15 * MIN); // exactly the timeout since the last use
      await auth.authenticate(token, T1.fingerprint);
      clock.advance(15 * MIN + 1000);
      await assert.rejects(auth.authenticate(token, T1.fingerprint), rejectsWith("unauthenticated", /session expired/));
    });

    it("writes the session's last use at most every 10 s; the session ends 15 min after the last write", async () => {
      const { token } = await login();
      const sessions = stores.sessions;
      const touches: Date[] = [];
      const touch = sessions.touch.bind(sessions);
      sessions.touch = async (hash, at, idleSince, tx) => {
        touches.push(at);
        return touch(hash, at, idleSince, tx);
      };
      try {
        const loggedIn = clock.now().getTime();
        clock.advance(9_000);
        const early = await auth.authenticate(token, T1.fingerprint);
        assert.equal(touches.length, 0, "9 s after login: no write");
        assert.deepEqual(early.expiresAt, new Date(loggedIn + 15 * MIN), "the real end: 15 min after the login");
        clock.advance(1_000);
        const slid = await auth.authenticate(token, T1.fingerprint);
        assert.deepEqual(touches, [clock.now()], "10 s after the last write: slid");
        assert.deepEqual(slid.expiresAt, new Date(clock.now().getTime() + 15 * MIN));
        clock.advance(15 * MIN + 1000);
        await assert.rejects(auth.authenticate(token, T1.fingerprint), rejectsWith("unauthenticated", /session expired/));
      } finally {
        sessions.touch = touch;
      }
    });

    it("refuses a session used with another terminal's certificate, with the message of an unknown token (issue 12)", async () => {
      const { token } = await login();
      const unknown = (await auth.authenticate("A".repeat(43), T2.fingerprint).catch((e: Error) => e)) as Error;
      await assert.rejects(auth.authenticate(token, T2.fingerprint), rejectsWith("unauthenticated", new RegExp(`^${unknown.message}$`)));
      assert.equal((await auth.authenticate(token, T1.fingerprint)).operatorId, "tanaka");
    });

    it("refuses unknown, malformed and logged-off tokens", async () => {
      const { token } = await login();
      await assert.rejects(auth.authenticate("x".repeat(43), T1.fingerprint), rejectsWith("unauthenticated"));
      await assert.rejects(auth.authenticate("not a token", T1.fingerprint), rejectsWith("unauthenticated"));
      const p = await auth.authenticate(token, T1.fingerprint);
      await auth.logout(p);
      await assert.rejects(auth.authenticate(token, T1.fingerprint), rejectsWith("unauthenticated"));
      assert.deepEqual((await audit()).at(-1)?.action, "operator.logout");
    });

    it("drops the sessions of an operator who gets locked", async () => {
      const { token } = await login(GOOD, "tanaka", T1);
      for (const pw of ["x1", "x2", "x3"]) await login(pw, "tanaka", T2).catch(() => undefined);
      await assert.rejects(auth.authenticate(token, T1.fingerprint), rejectsWith("unauthenticated"));
    });

    it("reads roles from the operator record on every request", async () => {
      const { token } = await login();
      await stores.operators.setRoles("tanaka", ["auditor"], T0);
      assert.deepEqual((await auth.authenticate(token, T1.fingerprint)).roles, ["auditor"]);
    });
  });

  describe("passwords", () => {
    it("forces a change at first logon, then clears it and ends the other sessions", async () => {
      const added = await auth.addOperator("cli", { operatorId: "suzuki", roles: ["ca-operator"] });
      assert.equal(added.mustChangePassword, true);
      const otp = added.oneTimePassword!;
      assert.equal(checkPassword(otp, { operatorId: "suzuki" }).ok, true);
      const other = await auth.login({ operatorId: "suzuki", password: otp, terminal: T2 });
      const r = await auth.login({ operatorId: "suzuki", password: otp, terminal: T1 });
      assert.equal(r.mustChangePassword, true);
      const p = await auth.authenticate(r.token, T1.fingerprint);
      assert.equal(p.mustChangePassword, true);
      await auth.changePassword(p, otp, NEW);
      assert.equal((await auth.authenticate(r.token, T1.fingerprint)).mustChangePassword, false);
      await assert.rejects(auth.authenticate(other.token, T2.fingerprint), rejectsWith("unauthenticated"));
      assert.equal((await auth.login({ operatorId: "suzuki", password: NEW, terminal: T1 })).mustChangePassword, false);
      await assert.rejects(auth.login({ operatorId: "suzuki", password: otp, terminal: T1 }), rejectsWith("unauthenticated"));
    });

    it("forces a change once the password is 90 days old", async () => {
      clock.set(new Date(T0.getTime() + 90 * DAY - 1000));
      assert.equal((await login()).mustChangePassword, false);
      clock.set(new Date(T0.getTime() + 90 * DAY));
      const r = await login();
      assert.equal(r.mustChangePassword, true);
      const p = await auth.authenticate(r.token, T1.fingerprint);
      await auth.changePassword(p, GOOD, NEW);
      assert.equal((await auth.authenticate(r.token, T1.fingerprint)).mustChangePassword, false);
    });

    it("refuses a new password that breaks the policy or equals the current one", async () => {
      const p = await auth.authenticate((await login()).token, T1.fingerprint);
      await assert.rejects(auth.changePassword(p, GOOD, "short"), (e: unknown) => e instanceof CaError && e.kind === "unprocessable" && e.field === "newPassword" && /too-short/.test(e.message));
      await assert.rejects(auth.changePassword(p, GOOD, "xx-tanaka-1979!"), rejectsWith("unprocessable", /contains-operator-id/));
      await assert.rejects(auth.changePassword(p, GOOD, GOOD), rejectsWith("unprocessable", /differ/));
    });

    it("counts a wrong current password towards the lockout", async () => {
      const p = await auth.authenticate((await login()).token, T1.fingerprint);
      await assert.rejects(auth.changePassword(p, "guess-1", NEW), (e: unknown) => e instanceof CaError && e.kind === "forbidden" && e.field === "currentPassword");
      await assert.rejects(auth.changePassword(p, "guess-2", NEW), rejectsWith("forbidden"));
      await assert.rejects(auth.changePassword(p, "guess-3", NEW), rejectsWith("locked"));
      await assert.rejects(login(), rejectsWith("unauthenticated"));
      assert.notEqual((await stores.operators.get("tanaka"))?.lockedAt, null);
    });
  });

  describe("administration", () => {
    const officer = async (): Promise<OperatorPrincipal> => {
      await auth.addOperator("cli", { operatorId: "sato", roles: ["security-officer"], password: "Sv6!wQn3pLx8", ready: true });
      return auth.authenticate((await auth.login({ operatorId: "sato", password: "Sv6!wQn3pLx8", terminal: T2 })).token, T2.fingerprint);
    };

    it("unlock: security officer only; resets the counter; audited", async () => {
      for (const pw of ["x1", "x2", "x3"]) await login(pw).catch(() => undefined);
      const tanaka = { operatorId: "tanaka", roles: ["terminal-operator"] } as unknown as OperatorPrincipal;
      await assert.rejects(auth.unlock(tanaka, "tanaka"), rejectsWith("forbidden", /security-officer/));
      const so = await officer();
      await auth.unlock(so, "tanaka");
      const op = await stores.operators.get("tanaka");
      assert.deepEqual([op?.failedAttempts, op?.lockedAt], [0, null]);
      await login();
      const entry = (await audit()).find((e) => e.action === "operator.unlocked");
      assert.deepEqual([entry?.actor, entry?.subject, entry?.detail], ["operator:sato", "operator:tanaka", { wasLocked: true, failedAttempts: 3 }]);
      await assert.rejects(auth.unlock(so, "nobody"), rejectsWith("not-found"));
      await auth.unlock("cli", "tanaka");
    });

    it("addOperator: separation of duties, id format, duplicates, weak passwords, role check", async () => {
      await assert.rejects(auth.addOperator("cli", { operatorId: "kato", roles: ["security-officer", "ca-admin"] }), rejectsWith("unprocessable", /separation of duties/));
      await assert.rejects(auth.addOperator("cli", { operatorId: "bad id", roles: ["auditor"] }), rejectsWith("invalid-input"));
      await assert.rejects(auth.addOperator("cli", { operatorId: "tanaka", roles: ["auditor"], password: NEW }), rejectsWith("conflict"));
      await assert.rejects(auth.addOperator("cli", { operatorId: "kato", roles: ["auditor"], password: "password1234" }), (e: unknown) => e instanceof CaError && e.field === "password");
      const tanaka = await auth.authenticate((await login()).token, T1.fingerprint);
      await assert.rejects(auth.addOperator(tanaka, { operatorId: "kato", roles: ["auditor"] }), rejectsWith("forbidden"));
      const so = await officer();
      await auth.addOperator(so, { operatorId: "kato", roles: ["auditor"] });
      await assert.rejects(auth.setRoles(so, "kato", ["ca-admin", "security-officer"]), rejectsWith("unprocessable"));
      await auth.setRoles(so, "kato", ["auditor", "ca-operator"]);
      assert.deepEqual((await stores.operators.get("kato"))?.roles, ["ca-operator", "auditor"]);
    });

    it("never writes password material to the audit log", async () => {
      const added = await auth.addOperator("cli", { operatorId: "ito", roles: ["auditor"] });
      const r = await auth.login({ operatorId: "ito", password: added.oneTimePassword!, terminal: T1 });
      const p = await auth.authenticate(r.token, T1.fingerprint);
      await auth.changePassword(p, added.oneTimePassword!, NEW);
      await login("Wr0ng-but-secret").catch(() => undefined);
      const all = JSON.stringify(await audit());
      const hashes = [(await stores.operators.get("ito"))!.passwordHash, (await stores.operators.get("tanaka"))!.passwordHash];
      for (const secret of [GOOD, NEW, added.oneTimePassword!, "Wr0ng-but-secret", r.token, ...hashes]) assert.equal(all.includes(secret), false);
      const actions = new Set((await audit()).map((e) => e.action));
      for (const a of ["operator.added", "operator.login", "operator.password.changed"]) assert.ok(actions.has(a), a);
    });
  });
});
