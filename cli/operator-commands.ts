import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { CaError } from "../ca/errors.js";
import { OperatorAuth } from "../ca/operators/operator-auth.js";
import type { Service } from "../api/main.js";
import { KnexOperatorSessionStore } from "../db/operator-session-store.js";
import { KnexOperatorStore } from "../db/operator-store.js";

/**
 * `operator add` and `operator unlock` (docs/api.md §8). The CLI acts as the local security officer:
 * it runs on the CA host, and every action is audited with actor "cli".
 *
 * Issue 12: on the API a second security officer decides every account that takes part in four-eyes
 * operations. The CLI is root on the CA host — who can read the database and the HSM PIN anyway — so
 * it stays the break-glass path: it creates any account alone, but the account approves nothing until
 * confirmed, either by two security officers through the API (`POST /v1/admin/operators/{id}/roles`
 * with its roles → 202 → approved) or here with `--break-glass` (audited as `operator.confirmed`,
 * detail `breakGlass: true`; the anomaly review sees every such entry). docs/admin.md.
 */

/** What these commands need of the Service (api/main.ts). */
export type OperatorCliService = Pick<Service, "db" | "clock" | "random"> & { readonly stores: Pick<Service["stores"], "audit"> };

type Print = (line: string) => void;

/** The operator authentication service over the service's database. */
export function operatorAuthOf(service: OperatorCliService): OperatorAuth {
  return new OperatorAuth({
    operators: new KnexOperatorStore(service.db),
    sessions: new KnexOperatorSessionStore(service.db),
    audit: service.stores.audit,
    transactions: service.db,
    clock: service.clock,
    random: service.random,
  });
}

export const operatorAddUsage =
  "operator add <id> --role r1,r2 [--name <display name>] [--password-file <file>] [--ready] [--break-glass]";

/**
 * Marks an account's roles confirmed by the CA host itself (`by` = "cli" or "cli:init"), audited as a
 * break-glass act: the key ceremony's security officers (nobody exists to confirm them) and
 * `operator add --break-glass`.
 */
export async function confirmOnHost(service: OperatorCliService, operatorId: string, by: "cli" | "cli:init"): Promise<void> {
  const operators = new KnexOperatorStore(service.db);
  const at = service.clock.now();
  await service.db.transaction(async (tx) => {
    await operators.setConfirmation(operatorId, { by, at }, tx);
    await service.stores.audit.append({ at, action: "operator.confirmed", actor: by, subject: `operator:${operatorId}`, outcome: "success", detail: { breakGlass: true } }, tx);
  });
}

/**
 * `operator add <id> --role r1,r2 [--name n] [--password-file f] [--ready] [--break-glass]`. Without a
 * password file, prints a generated one-time password (shown once). `--ready` (demo only) skips the
 * forced change at first logon; `--break-glass` confirms the account alone (see above). Returns the exit code.
 */
export async function operatorAdd(service: OperatorCliService, args: string[], print: Print = console.log): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { role: { type: "string" }, name: { type: "string" }, "password-file": { type: "string" }, ready: { type: "boolean" }, "break-glass": { type: "boolean" } },
  });
  const [operatorId, ...extra] = positionals;
  if (operatorId === undefined || extra.length > 0 || values.role === undefined) throw new CaError("invalid-input", `usage: ${operatorAddUsage}`);
  const roles = values.role.split(",").map((r) => r.trim()).filter((r) => r.length > 0);
  let password: string | undefined;
  if (values["password-file"] !== undefined) {
    // One trailing newline is the file's, not the password's.
    password = (await readFile(values["password-file"], "utf8")).replace(/\r?\n$/, "");
  }
  const result = await operatorAuthOf(service).addOperator("cli", {
    operatorId,
    roles,
    ...(values.name === undefined ? {} : { displayName: values.name }),
    ...(password === undefined ? {} : { password }),
    ready: values.ready === true,
  });
  print(`operator ${result.operatorId} added with roles ${result.roles.join(", ")}`);
  if (values["break-glass"] === true) {
    await confirmOnHost(service, result.operatorId, "cli");
    print("break-glass: the account is confirmed by the CA host alone (audited as operator.confirmed)");
  } else {
    print("the account approves nothing until two security officers confirm it (POST /v1/admin/operators/{id}/roles), or --break-glass");
  }
  if (result.oneTimePassword !== undefined) {
    print(`one-time password (shown once; hand it over in person): ${result.oneTimePassword}`);
  }
  print(result.mustChangePassword ? "the operator must change the password at first logon" : "no password change required at first logon (--ready)");
  return 0;
}

/** `operator unlock <id>`: clears a lockout after 3 failed logins. Returns the exit code. */
export async function operatorUnlock(service: OperatorCliService, args: string[], print: Print = console.log): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const [operatorId, ...extra] = positionals;
  if (operatorId === undefined || extra.length > 0) throw new CaError("invalid-input", "usage: operator unlock <id>");
  await operatorAuthOf(service).unlock("cli", operatorId);
  print(`operator ${operatorId} unlocked`);
  return 0;
}
