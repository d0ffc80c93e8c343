import assert from "node:assert/strict";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ESLint, type Linter } from "eslint";

/**
 * The folder boundaries of docs/design.md §1 are enforced by eslint.config.js; these tests prove the rules
 * fire (a config typo would otherwise silently allow everything). The code is linted as if it lived at
 * the given path; no file is written.
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The type-aware rules of eslint.config.js (issue 15 item 5); proven by their own suite below. */
const typeAwareRules = ["@typescript-eslint/no-floating-promises", "@typescript-eslint/no-misused-promises"] as const;

/**
 * The boundary rules need no type information, and the snippets live at paths no tsconfig knows
 * (`ca/x.ts`), so these lints run without the project service and without the type-aware rules.
 */
const withoutTypes: Linter.Config = {
  languageOptions: { parserOptions: { projectService: false } },
  rules: Object.fromEntries(typeAwareRules.map((r) => [r, "off"])),
};

describe("lint: docs/design.md §1 import boundaries (eslint.config.js)", function () {
  this.timeout(30_000);
  let eslint: ESLint;

  before(() => {
    eslint = new ESLint({ cwd: repoRoot, overrideConfig: withoutTypes });
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

  it("cli/ imports from api/ only config.js and main.js (issue 15: the composition root re-exports the rest)", async () => {
    for (const path of ["../api/routes/crl.js", "../api/wiring/ca-generations.js", "../api/cluster-metrics.js", "../../api/metrics.js"]) {
      const messages = await boundaryErrors(path.startsWith("../../") ? "cli/sub/x.ts" : "cli/x.ts", `import { x } from "${path}";\nexport const y = x;\n`);
      assert.deepEqual(errorsOf(messages), [["no-restricted-imports", 2]], path);
      assert.match(messages[0]!.message, /only config\.js and main\.js/);
    }
    const allowed = 'import { loadConfig } from "../api/config.js";\nimport { openService, type Service } from "../api/main.js";\nexport const c = [loadConfig, openService] as const;\nexport type S = Service;\n';
    assert.deepEqual(await boundaryErrors("cli/x.ts", allowed), []);
  });

  it("nothing in api/ imports the composition root api/main.ts (issue 15: no circle through it)", async () => {
    for (const [path, spec] of [["api/x.ts", "./main.js"], ["api/wiring/x.ts", "../main.js"], ["api/routes/x.ts", "../main.js"]] as const) {
      const messages = await boundaryErrors(path, `import type { Service } from "${spec}";\nexport type S = Service;\n`);
      assert.deepEqual(errorsOf(messages), [["no-restricted-imports", 2]], path);
      assert.match(messages[0]!.message, /composition root/);
    }
    // Other files named main.js elsewhere are not the composition root.
    assert.deepEqual(await boundaryErrors("api/wiring/x.ts", 'import { x } from "../../ocsp/main.js";\nexport const y = x;\n'), []);
  });

  it("api/ may not import cli/; ca/ may not import api/", async () => {
    assert.deepEqual(errorsOf(await boundaryErrors("api/x.ts", 'import { runCeremony } from "../cli/ceremony.js";\nexport const r = runCeremony;\n')), [["no-restricted-imports", 2]]);
    assert.deepEqual(errorsOf(await boundaryErrors("ca/sub/x.ts", 'import { loadConfig } from "../../api/config.js";\nexport const c = loadConfig;\n')), [["no-restricted-imports", 2]]);
  });
});

describe("lint: type-aware promise rules (eslint.config.js, issue 15 item 5)", function () {
  // The project service loads the TypeScript program once (~10 s on a busy machine).
  this.timeout(120_000);
  let eslint: ESLint;
  /** A path no tsconfig includes: the project service's default project takes it (the rules are the real config's). */
  const samplePath = join(repoRoot, "lint-sample.ts");

  before(() => {
    eslint = new ESLint({ cwd: repoRoot, overrideConfig: { languageOptions: { parserOptions: { projectService: { allowDefaultProject: ["lint-sample.ts"] } } } } });
  });

  async function typeAwareErrors(code: string): Promise<Array<[string | null, number, number]>> {
    const [result] = await eslint.lintText(code, { filePath: samplePath });
    assert.ok(result, "one lint result");
    assert.deepEqual(result.messages.filter((m) => m.fatal), [], "the sample parses with type information");
    return result.messages.filter((m) => (typeAwareRules as readonly string[]).includes(m.ruleId ?? "")).map((m) => [m.ruleId, m.severity, m.line]);
  }

  const save = "async function save(n: number): Promise<number> {\n  return n;\n}\n";

  it("a promise nobody awaits is an error (no-floating-promises)", async () => {
    assert.deepEqual(await typeAwareErrors(`${save}export function f(): void {\n  save(1);\n}\n`), [["@typescript-eslint/no-floating-promises", 2, 5]]);
  });

  it("an async callback where a void one is expected is an error (no-misused-promises)", async () => {
    const code = `${save}export function f(): void {\n  [1, 2].forEach(async (n) => {\n    await save(n);\n  });\n}\n`;
    assert.deepEqual(await typeAwareErrors(code), [["@typescript-eslint/no-misused-promises", 2, 5]]);
  });

  it("awaited, or explicitly voided, is clean", async () => {
    const code = `${save}export async function f(): Promise<void> {\n  await save(1);\n  void save(2);\n}\n`;
    assert.deepEqual(await typeAwareErrors(code), []);
  });
});
