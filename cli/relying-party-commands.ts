import { parseArgs } from "node:util";
import type { Service } from "../api/main.js";
import { CaError } from "../ca/errors.js";

export const relyingPartyAddUsage = "relying-party add <id> --name <name>";

type Print = (line: string) => void;

/** `relying-party add <id> --name <name>`: registers a relying party and prints its API key once. */
export async function relyingPartyAdd(service: Pick<Service, "relyingParties">, args: string[], print: Print = console.log): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { name: { type: "string" } } });
  const [id, ...extra] = positionals;
  if (id === undefined || extra.length > 0) throw new CaError("invalid-input", `usage: ${relyingPartyAddUsage}`);
  const { party, apiKey } = await service.relyingParties.register("cli", { id, name: values.name ?? id });
  print(`relying party ${party.id} registered`);
  print(`API key (shown once, store it now): ${apiKey}`);
  return 0;
}

/** `relying-party deactivate <id>`. */
export async function relyingPartyDeactivate(service: Pick<Service, "relyingParties">, args: string[], print: Print = console.log): Promise<number> {
  const [id] = args;
  if (!id) throw new CaError("invalid-input", "usage: relying-party deactivate <id>");
  await service.relyingParties.deactivate("cli", id);
  print(`relying party ${id} deactivated`);
  return 0;
}
