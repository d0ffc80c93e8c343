// Lint: TypeScript rules plus the import boundaries of docs/design.md §1, which fail the build when broken.
import tseslint from "typescript-eslint";

/** I/O libraries the core must not touch (docs/design.md §1: ca/ never imports koa, knex, graphene …). */
const ioLibraries = ["koa", "@koa/*", "knex", "knex-pglite", "pg", "graphene-pk11", "pkcs11js", "nats", "pino", "prom-client", "@electric-sql/*"];

/** A relative import of one of our top-level folders, e.g. "../api/config.js". */
const folder = (name) => ({ regex: `^(\\.\\./)+${name}/|^\\./${name}/`, message: `imports of ${name}/ break docs/design.md §1` });

/** folder → what it may not import (docs/design.md §1). Nothing imports api/ except cli/ (and tests). */
const boundaries = {
  ca: [...ioLibraries.map((group) => ({ group: [group], message: "ca/ is the core: no I/O libraries" })), ...["api", "cli", "hsm", "db", "crl", "ocsp", "events", "bench"].map(folder)],
  hsm: ["api", "cli", "db", "crl", "ocsp", "events"].map(folder),
  db: ["api", "cli", "hsm", "crl", "ocsp", "events"].map(folder),
  crl: ["api", "cli"].map(folder),
  ocsp: ["api", "cli"].map(folder),
  events: ["api", "cli"].map(folder),
  bench: [],
  // Issue 15: nothing in api/ imports the composition root (api/main.ts), so no circle runs through it.
  api: [...["cli"].map(folder), { regex: "^(\\./|(\\.\\./)+)main\\.js$", message: "api/main.ts is the composition root: only cli/ (and tests) import it; take what you need as a parameter" }],
  // Issue 15: the CLI reaches api/ through its configuration and the composition root only.
  cli: [{ regex: "^(\\.\\./)+api/(?!(config|main)\\.js$)", message: "cli/ imports from api/ only config.js and main.js (the composition root re-exports what the CLI needs)" }],
};

const noEnv = { object: "process", property: "env", message: "configuration is parsed once in api/config.ts (docs/design.md §3.3)" };

export default tseslint.config(
  { ignores: ["node_modules/**", "var/**", "coverage/**", "**/*.cjs"] },
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "error",
    },
  },
  {
    // Type-aware (docs/design.md §3 "avoid floating promises"): a promise nobody awaits loses its rejection; one
    // handed where a void callback is expected (a Koa/event handler, a `forEach`) is never awaited.
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
    },
  },
  {
    // Tests may poke at untyped shapes (malformed input on purpose).
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
  ...Object.entries(boundaries).map(([name, patterns]) => ({
    files: [`${name}/**/*.ts`],
    rules: {
      "no-restricted-imports": ["error", { patterns }],
      ...(["ca", "hsm", "db", "crl", "ocsp", "events"].includes(name) ? { "no-restricted-properties": ["error", noEnv] } : {}),
    },
  })),
);
