import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { CaError } from "../../ca/errors.js";
import { defaultOperatingSchedule, type OperatingSchedule } from "../../ca/operators/operating-hours.js";
import type { NewOperator, NewTerminal, OperatorSessionStore, OperatorStore, TerminalStore } from "../../ca/operators/operator-ports.js";
import type { TransactionRunner } from "../../ca/stores.js";

/**
 * Contract suite for the operator, session and terminal store ports (ca/operators/operator-ports.ts). Run against
 * the memory doubles (test/unit/db/memory-operator-stores.test.ts), PGlite and PostgreSQL
 * (test/integration/db/*-operator-stores.test.ts). Tests use their own random ids.
 */
export interface OperatorStoreFixture {
  readonly transactions: TransactionRunner;
  readonly operators: OperatorStore;
  readonly sessions: OperatorSessionStore;
  readonly terminals: TerminalStore;
  close(): Promise<void>;
}

const isCaError = (kind: CaError["kind"]) => (err: unknown) => err instanceof CaError && err.kind === kind;
const hex = (n: number): string => randomBytes(n).toString("hex");
const T0 = new Date("2026-11-24T01:00:00.123Z");
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);

export function operatorStoresContract(name: string, open: () => Promise<OperatorStoreFixture>): void {
  describe(`${name}: operator store contract`, function () {
    this.timeout(120_000);
    let fx: OperatorStoreFixture;
    before(async () => {
      fx = await open();
    });
    after(async () => {
      await fx?.close();
    });

    const newOperator = (overrides: Partial<NewOperator> = {}): NewOperator => ({
      operatorId: `op-${hex(4)}`,
      displayName: "窓口 一郎",
      roles: ["terminal-operator"],
      passwordHash: `scrypt$32768$8$1$${hex(16)}$${hex(32)}`,
      mustChangePassword: true,
      createdAt: T0,
      ...overrides,
    });
    const added = async (overrides: Partial<NewOperator> = {}): Promise<string> => {
      const op = newOperator(overrides);
      await fx.operators.insert(op);
      return op.operatorId;
    };
    const newTerminal = (overrides: Partial<NewTerminal> = {}): NewTerminal => ({
      terminalId: `term-${hex(4)}`,
      municipalityCode: "131041",
      clientCertSerial: `4${hex(15)}`,
      clientCertFingerprint: hex(32),
      operatingHours: null,
      enrolledAt: T0,
      ...overrides,
    });

    describe("OperatorStore", () => {
      it("inserts and reads back an operator (roles, dates, defaults)", async () => {
        const op = newOperator({ roles: ["ca-operator", "auditor"] });
        await fx.operators.insert(op);
        assert.deepEqual(await fx.operators.get(op.operatorId), {
          operatorId: op.operatorId,
          displayName: "窓口 一郎",
          roles: ["ca-operator", "auditor"],
          passwordHash: op.passwordHash,
          passwordChangedAt: T0,
          mustChangePassword: true,
          failedAttempts: 0,
          lockedAt: null,
          active: true,
          createdAt: T0,
          updatedAt: T0,
          confirmedBy: null,
          confirmedAt: null,
          sponsors: [],
        });
        assert.equal(await fx.operators.get(`op-${hex(4)}`), undefined);
        assert.ok((await fx.operators.list()).some((o) => o.operatorId === op.operatorId));
      });

      it("records the confirmation of an account's roles, and clears it", async () => {
        const id = await added({ roles: ["ca-operator"] });
        await fx.operators.setConfirmation(id, { by: "so-2", at: at(7) });
        let o = await fx.operators.get(id);
        assert.deepEqual([o?.confirmedBy, o?.confirmedAt, o?.updatedAt], ["so-2", at(7), at(7)]);
        await fx.operators.setConfirmation(id, null);
        o = await fx.operators.get(id);
        assert.deepEqual([o?.confirmedBy, o?.confirmedAt], [null, null]);
        await assert.rejects(fx.operators.setConfirmation(`op-${hex(4)}`, { by: "x", at: at(1) }), isCaError("not-found"));
      });

      it("keeps sponsors as a set, and every one of concurrent additions", async () => {
        const id = await added();
        await fx.operators.addSponsors(id, ["so-1"], at(1));
        await fx.operators.addSponsors(id, ["so-2", "so-1"], at(2));
        assert.deepEqual((await fx.operators.get(id))?.sponsors, ["so-1", "so-2"]);
        await Promise.all(["a", "b", "c", "d"].map((s) => fx.operators.addSponsors(id, [s], at(3))));
        assert.deepEqual((await fx.operators.get(id))?.sponsors, ["a", "b", "c", "d", "so-1", "so-2"]);
        await assert.rejects(fx.operators.addSponsors(`op-${hex(4)}`, ["x"], at(1)), isCaError("not-found"));
      });

      it("refuses a duplicate id with conflict", async () => {
        const id = await added();
        await assert.rejects(fx.operators.insert(newOperator({ operatorId: id })), isCaError("conflict"));
      });

      it("counts failures and locks at the limit, keeping the first lock time", async () => {
        const id = await added();
        assert.deepEqual(await fx.operators.recordFailure(id, at(1), 3), { failedAttempts: 1, lockedAt: null });
        assert.deepEqual(await fx.operators.recordFailure(id, at(2), 3), { failedAttempts: 2, lockedAt: null });
        assert.deepEqual(await fx.operators.recordFailure(id, at(3), 3), { failedAttempts: 3, lockedAt: at(3) });
        assert.deepEqual(await fx.operators.recordFailure(id, at(4), 3), { failedAttempts: 4, lockedAt: at(3) });
        const o = await fx.operators.get(id);
        assert.deepEqual([o?.failedAttempts, o?.lockedAt], [4, at(3)]);
        assert.equal(await fx.operators.recordFailure(`op-${hex(4)}`, at(1), 3), undefined);
      });

      it("counts every one of concurrent failures", async () => {
        const id = await added();
        const results = await Promise.all(Array.from({ length: 10 }, () => fx.operators.recordFailure(id, at(5), 3)));
        assert.deepEqual(results.map((r) => r?.failedAttempts).sort((a, b) => a! - b!), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert.equal((await fx.operators.get(id))?.failedAttempts, 10);
        assert.deepEqual((await fx.operators.get(id))?.lockedAt, at(5));
      });

      it("recordSuccess resets the count unless locked; unlock clears both", async () => {
        const id = await added();
        await fx.operators.recordFailure(id, at(1), 3);
        await fx.operators.recordFailure(id, at(2), 3);
        assert.equal(await fx.operators.recordSuccess(id, at(3)), true);
        assert.equal((await fx.operators.get(id))?.failedAttempts, 0);
        for (let i = 0; i < 3; i++) await fx.operators.recordFailure(id, at(10 + i), 3);
        assert.equal(await fx.operators.recordSuccess(id, at(20)), false);
        assert.equal((await fx.operators.get(id))?.failedAttempts, 3);
        assert.equal(await fx.operators.unlock(id, at(30)), true);
        const o = await fx.operators.get(id);
        assert.deepEqual([o?.failedAttempts, o?.lockedAt, o?.updatedAt], [0, null, at(30)]);
        assert.equal(await fx.operators.recordSuccess(`op-${hex(4)}`, at(1)), false);
        assert.equal(await fx.operators.unlock(`op-${hex(4)}`, at(1)), false);
      });

      it("sets password, roles and active flag; unknown ids are not-found", async () => {
        const id = await added();
        await fx.operators.setPassword(id, { passwordHash: "scrypt$new", mustChangePassword: false, at: at(60) });
        await fx.operators.setRoles(id, ["security-officer", "auditor"], at(61));
        await fx.operators.setActive(id, false, at(62));
        const o = await fx.operators.get(id);
        assert.deepEqual(
          [o?.passwordHash, o?.mustChangePassword, o?.passwordChangedAt, o?.roles, o?.active, o?.updatedAt],
          ["scrypt$new", false, at(60), ["security-officer", "auditor"], false, at(62)],
        );
        const ghost = `op-${hex(4)}`;
        await assert.rejects(fx.operators.setPassword(ghost, { passwordHash: "x", mustChangePassword: false, at: T0 }), isCaError("not-found"));
        await assert.rejects(fx.operators.setRoles(ghost, ["auditor"], T0), isCaError("not-found"));
        await assert.rejects(fx.operators.setActive(ghost, true, T0), isCaError("not-found"));
      });
    });

    describe("OperatorSessionStore", () => {
      it("inserts and reads a session; refuses a duplicate hash and an unknown operator", async () => {
        const operatorId = await added();
        const s = { tokenHash: hex(32), operatorId, terminalFingerprint: hex(32), createdAt: T0 };
        await fx.sessions.insert(s);
        assert.deepEqual(await fx.sessions.get(s.tokenHash), { ...s, lastSeenAt: T0, endedAt: null });
        await assert.rejects(fx.sessions.insert(s), isCaError("conflict"));
        await assert.rejects(fx.sessions.insert({ ...s, tokenHash: hex(32), operatorId: `op-${hex(4)}` }), isCaError("not-found"));
        assert.equal(await fx.sessions.get(hex(32)), undefined);
      });

      it("touch slides lastSeenAt only for an open session seen at or after idleSince", async () => {
        const operatorId = await added();
        const tokenHash = hex(32);
        await fx.sessions.insert({ tokenHash, operatorId, terminalFingerprint: hex(32), createdAt: T0 });
        assert.equal(await fx.sessions.touch(tokenHash, at(900), at(0)), true); // idle exactly the limit
        assert.deepEqual((await fx.sessions.get(tokenHash))?.lastSeenAt, at(900));
        assert.equal(await fx.sessions.touch(tokenHash, at(1801), at(901)), false); // idle 1 s too long
        assert.deepEqual((await fx.sessions.get(tokenHash))?.lastSeenAt, at(900));
        assert.equal(await fx.sessions.touch(tokenHash, at(800), at(0)), true); // never moves back
        assert.deepEqual((await fx.sessions.get(tokenHash))?.lastSeenAt, at(900));
        assert.equal(await fx.sessions.end(tokenHash, at(1000)), true);
        assert.equal(await fx.sessions.end(tokenHash, at(1001)), false);
        assert.deepEqual((await fx.sessions.get(tokenHash))?.endedAt, at(1000));
        assert.equal(await fx.sessions.touch(tokenHash, at(1000), at(0)), false);
        assert.equal(await fx.sessions.touch(hex(32), at(1), at(0)), false);
      });

      it("ends all sessions of an operator but one, and all sessions on a terminal", async () => {
        const a = await added();
        const b = await added();
        const fp = hex(32);
        const mk = async (operatorId: string, terminalFingerprint: string) => {
          const tokenHash = hex(32);
          await fx.sessions.insert({ tokenHash, operatorId, terminalFingerprint, createdAt: T0 });
          return tokenHash;
        };
        const [a1, a2, a3, b1] = [await mk(a, fp), await mk(a, hex(32)), await mk(a, hex(32)), await mk(b, fp)];
        assert.equal(await fx.sessions.endAllForOperator(a, at(5), a1), 2);
        assert.deepEqual([(await fx.sessions.get(a1))?.endedAt, (await fx.sessions.get(a2))?.endedAt, (await fx.sessions.get(a3))?.endedAt], [null, at(5), at(5)]);
        assert.equal(await fx.sessions.endAllOnTerminal(fp, at(6)), 2);
        assert.deepEqual([(await fx.sessions.get(a1))?.endedAt, (await fx.sessions.get(b1))?.endedAt], [at(6), at(6)]);
        assert.equal(await fx.sessions.endAllForOperator(a, at(7)), 0);
      });
    });

    describe("TerminalStore", () => {
      it("enrols, reads by id and serial, lists, revokes once", async () => {
        const t = newTerminal();
        await fx.terminals.enrol(t);
        const expected = { ...t, status: "active", revokedAt: null };
        assert.deepEqual(await fx.terminals.get(t.terminalId), expected);
        assert.deepEqual(await fx.terminals.getBySerial(t.clientCertSerial), expected);
        assert.ok((await fx.terminals.list()).some((x) => x.terminalId === t.terminalId));
        assert.equal(await fx.terminals.get(`term-${hex(4)}`), undefined);
        assert.equal(await fx.terminals.revoke(t.terminalId, at(9)), true);
        assert.equal(await fx.terminals.revoke(t.terminalId, at(10)), false);
        assert.deepEqual(await fx.terminals.get(t.terminalId), { ...expected, status: "revoked", revokedAt: at(9) });
        assert.equal(await fx.terminals.revoke(`term-${hex(4)}`, at(9)), false);
      });

      it("refuses an active id or a known serial; re-enrols a revoked id with a new certificate", async () => {
        const t = newTerminal();
        await fx.terminals.enrol(t);
        await assert.rejects(fx.terminals.enrol({ ...newTerminal(), terminalId: t.terminalId }), isCaError("conflict"));
        await assert.rejects(fx.terminals.enrol({ ...newTerminal(), clientCertSerial: t.clientCertSerial }), isCaError("conflict"));
        await fx.terminals.revoke(t.terminalId, at(1));
        const again = newTerminal({ terminalId: t.terminalId, enrolledAt: at(2) });
        await fx.terminals.enrol(again);
        assert.deepEqual(await fx.terminals.get(t.terminalId), { ...again, status: "active", revokedAt: null });
        assert.equal(await fx.terminals.getBySerial(t.clientCertSerial), undefined);
      });

      it("stores per-terminal operating hours (null = default)", async () => {
        const hours: OperatingSchedule = { ...defaultOperatingSchedule, open: "09:00", close: "20:00", weekdays: [1, 2, 3, 4, 5, 6] };
        const t = newTerminal({ operatingHours: hours });
        await fx.terminals.enrol(t);
        assert.deepEqual((await fx.terminals.get(t.terminalId))?.operatingHours, hours);
        await fx.terminals.setOperatingHours(t.terminalId, null);
        assert.equal((await fx.terminals.get(t.terminalId))?.operatingHours, null);
        await assert.rejects(fx.terminals.setOperatingHours(`term-${hex(4)}`, hours), isCaError("not-found"));
      });
    });

    describe("transactions", () => {
      it("roll back operator, session and terminal writes together", async () => {
        const id = await added();
        const op = newOperator();
        const t = newTerminal();
        const tokenHash = hex(32);
        await assert.rejects(
          fx.transactions.transaction(async (tx) => {
            await fx.operators.insert(op, tx);
            await fx.operators.recordFailure(id, at(1), 3, tx);
            await fx.sessions.insert({ tokenHash, operatorId: op.operatorId, terminalFingerprint: hex(32), createdAt: T0 }, tx);
            await fx.terminals.enrol(t, tx);
            assert.equal((await fx.operators.get(id, tx))?.failedAttempts, 1); // visible inside
            throw new Error("boom");
          }),
          /boom/,
        );
        assert.equal(await fx.operators.get(op.operatorId), undefined);
        assert.equal((await fx.operators.get(id))?.failedAttempts, 0);
        assert.equal(await fx.sessions.get(tokenHash), undefined);
        assert.equal(await fx.terminals.get(t.terminalId), undefined);
      });
    });
  });
}
