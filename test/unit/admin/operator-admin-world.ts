/**
 * Shared set-up of the operator administration unit tests (operator-admin.test.ts,
 * operator-four-eyes.test.ts): memory operator stores, OperatorAuth with a fast scrypt, an ApprovalEngine
 * with the operator executors, OperatorAdmin over both, and confirmed accounts logged in from one
 * admin workstation. Also the CaError matcher the admin tests share.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { ApprovalEngine } from "../../../ca/approvals/approval-engine.js";
import type { ApprovalExecutor } from "../../../ca/approvals/approval.js";
import { operatorApprovalExecutors } from "../../../ca/approvals/operator-approvals.js";
import { CaError, type CaErrorKind } from "../../../ca/errors.js";
import { OperatorAdmin } from "../../../ca/operators/operator-admin.js";
import { OperatorAuth } from "../../../ca/operators/operator-auth.js";
import type { OperatorPrincipal } from "../../../ca/operators/operator-principal.js";
import { ScryptPasswordHasher } from "../../../ca/operators/password-hash.js";
import type { OperatorRole } from "../../../ca/operators/roles.js";
import { FixedClock, type Random } from "../../../ca/ports.js";
import { createMemoryOperatorStores } from "../../support/memory-operator-stores.js";
import { MemoryDatabase } from "../../support/memory-stores.js";
import { MemoryApprovalStore } from "./memory-approval-store.js";

export const random: Random = { bytes: (n) => new Uint8Array(randomBytes(n)) };
export const T0 = new Date("2026-11-24T00:30:00Z");
/** A password the default policy accepts. */
export const GOOD = "Kq7#mZp2xW9v";
/** The admin workstation every operator logs in from. */
export const terminal = { id: "ws-01", fingerprint: createHash("sha256").update("ws").digest("hex") };

/** An `assert.rejects` matcher: a CaError of `kind` (and a message matching `message`). */
export const rejectsWith = (kind: CaErrorKind, message?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof CaError, String(e));
  assert.equal(e.kind, kind, e.message);
  if (message) assert.match(e.message, message);
  return true;
};

export interface OperatorAdminWorld {
  readonly stores: ReturnType<typeof createMemoryOperatorStores>;
  readonly auth: OperatorAuth;
  readonly engine: ApprovalEngine;
  readonly admin: OperatorAdmin;
  /** Logs in from `terminal` and answers the session's principal. */
  login(operatorId: string, password?: string): Promise<OperatorPrincipal>;
}

/**
 * A fresh world at T0: the operator executors and then `kinds` registered with the engine, and one
 * confirmed account (password GOOD) per `accounts` entry.
 */
export async function operatorAdminWorld(accounts: ReadonlyArray<readonly [string, OperatorRole]>, kinds: readonly ApprovalExecutor[]): Promise<OperatorAdminWorld> {
  const base = new MemoryDatabase();
  const stores = createMemoryOperatorStores(base);
  const clock = new FixedClock(T0);
  const passwords = new ScryptPasswordHasher(random, { N: 1024, r: 8, p: 1 });
  const auth = new OperatorAuth({ ...stores, clock, random, passwords });
  const engine = new ApprovalEngine({ store: new MemoryApprovalStore(base), audit: stores.audit, transactions: stores.transactions, clock, random, accounts: stores.operators });
  for (const e of operatorApprovalExecutors({ ...stores, clock, random, passwords, passwordPolicy: auth.settings.passwordPolicy })) engine.register(e);
  for (const e of kinds) engine.register(e);
  const admin = new OperatorAdmin({ auth, ...stores, clock, random, passwords, approvals: engine });
  for (const [operatorId, role] of accounts) {
    await auth.addOperator("cli", { operatorId, roles: [role], password: GOOD, ready: true });
    await stores.operators.setConfirmation(operatorId, { by: "cli:init", at: T0 });
  }
  const login = async (operatorId: string, password = GOOD): Promise<OperatorPrincipal> =>
    auth.authenticate((await auth.login({ operatorId, password, terminal })).token, terminal.fingerprint);
  return { stores, auth, engine, admin, login };
}
