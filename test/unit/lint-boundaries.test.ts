import assert from "node:assert/strict";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ESLint, type Linter } from "eslint";

/**
 * The folder boundaries of DESIGN.md §1 are enforced by eslint.config.js; these tests prove the rules
 * fire (a config typo would otherwise silently allow everything). The code is linted as if it lived at
 * the given path; no file is written.
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

describe("lint: DESIGN §1 import boundaries (eslint.config.js)", function () {
  this.timeout(30_000);
  let eslint: ESLint;

  before(() => {
    eslint = new ESLint({ cwd: repoRoot });
  });

  /** The boundary rule messages for `code` placed at `path` (other rules, e.g. unused vars, ignored). */
  async function boundaryErrors(path: string, code: string): Promise<Linter.LintMessage[]> {
    const [result] = await eslint.lintText(code, { filePath: join(repoRoot, path) });
    assert.ok(result, "one lint result");
    // A file the config ignores would report nothing at all: make sure it was really linted.
    assert.equal(result.messages.some((m) => /File ignored/.test(m.message)), false, `${path} is ignored by the config`);
    const fatal = result.messages.filter((m) => m.fatal);
    assert.deepEqual(fatal, [], `parse error in the snippet for ${path}`);
    return result.messages.filter((m) => m.ruleId === "no-restricted-imports" || m.ruleId === "no-restricted-properties");
  }

  const errorsOf = (messages: Linter.LintMessage[]): Array<[string | null, number]> => messages.map((m) => [m.ruleId, m.severity]);

  it('`import Koa from "koa"` in ca/ is an error', async () => {
    const messages = await boundaryErrors("ca/x.ts", 'import Koa from "koa";\nexport const app = new Koa();\n');
    assert.deepEqual(errorsOf(messages), [["no-restricted-imports", 2]]);
    assert.match(messages[0]!.message, /ca\/ is the core/);
  });

  it("other I/O libraries in ca/ are errors too (knex, pg, graphene-pk11, @koa/router)", async () => {
    for (const lib of ["knex", "pg", "graphene-pk11", "@koa/router"]) {
      const messages = await boundaryErrors("ca/x.ts", `import lib from "${lib}";\nexport const x = lib;\n`);
      assert.deepEqual(errorsOf(messages), [["no-restricted-imports", 2]], lib);
    }
  });

  it('`import { loadConfig } from "../api/config.js"` in db/ is an error', async () => {
    const messages = await boundaryErrors("db/x.ts", 'import { loadConfig } from "../api/config.js";\nexport const c = loadConfig;\n');
    assert.deepEqual(errorsOf(messages), [["no-restricted-imports", 2]]);
    assert.match(messages[0]!.message, /api\//);
  });

  it("`process.env.X` in hsm/ is an error (and in ca/, db/)", async () => {
    for (const folder of ["hsm", "ca", "db"]) {
      const messages = await boundaryErrors(`${folder}/x.ts`, "export const x = process.env.X;\n");
      assert.deepEqual(errorsOf(messages), [["no-restricted-properties", 2]], folder);
      assert.match(messages[0]!.message, /api\/config\.ts/);
    }
  });

  it("the same import of api/ in cli/ is allowed; so are koa and process.env there", async () => {
    const code = 'import { loadConfig } from "../api/config.js";\nimport Koa from "koa";\nexport const c = [loadConfig, Koa, process.env.X];\n';
    assert.deepEqual(await boundaryErrors("cli/x.ts", code), []);
    // The snippet itself is clean: no error from any rule.
    const [result] = await eslint.lintText(code, { filePath: join(repoRoot, "cli/x.ts") });
    assert.equal(result?.errorCount, 0, JSON.stringify(result?.messages));
  });

  it("api/ may not import cli/; ca/ may not import api/", async () => {
    assert.deepEqual(errorsOf(await boundaryErrors("api/x.ts", 'import { runCeremony } from "../cli/ceremony.js";\nexport const r = runCeremony;\n')), [["no-restricted-imports", 2]]);
    assert.deepEqual(errorsOf(await boundaryErrors("ca/sub/x.ts", 'import { loadConfig } from "../../api/config.js";\nexport const c = loadConfig;\n')), [["no-restricted-imports", 2]]);
  });
});
