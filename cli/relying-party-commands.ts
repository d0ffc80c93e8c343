import { parseArgs } from "node:util";
import type { Service } from "../api/main.js";
import { CaError } from "../ca/errors.js";
import { parseVerifierTypes, relyingPartyEnvironments, type RelyingPartyEnvironment } from "../ca/relying-parties/verifier-types.js";

export const relyingPartyAddUsage = "relying-party add <id> --name <name> [--verifier-types signing,user-auth,platform] [--environment test|production]";

type Print = (line: string) => void;

/**
 * `relying-party add <id> --name <name> [--verifier-types …] [--environment …]`: registers a relying party
 * (docs/relying-parties.md: without the options, signing + user-auth, production) and prints its API key once.
 */
export async function relyingPartyAdd(service: Pick<Service, "relyingParties">, args: string[], print: Print = console.log): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { name: { type: "string" }, "verifier-types": { type: "string" }, environment: { type: "string" } } });
  const [id, ...extra] = positionals;
  if (id === undefined || extra.length > 0) throw new CaError("invalid-input", `usage: ${relyingPartyAddUsage}`);
  const types = values["verifier-types"];
  const environment = values.environment;
  if (environment !== undefined && !(relyingPartyEnvironments as readonly string[]).includes(environment)) {
    throw new CaError("invalid-input", `--environment must be one of ${relyingPartyEnvironments.join(", ")}`, { field: "environment" });
  }
  const { party, apiKey } = await service.relyingParties.register("cli", {
    id,
    name: values.name ?? id,
    ...(types === undefined ? {} : { verifierTypes: parseVerifierTypes(types.split(","), "verifier-types") }),
    ...(environment === undefined ? {} : { environment: environment as RelyingPartyEnvironment }),
  });
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
