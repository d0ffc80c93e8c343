import assert from "node:assert/strict";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

/**
 * No import cycles (issue 15 item 2): the composition root (api/main.ts) calls the feature wiring
 * (api/wiring/*), the wiring builds the core (ca/) over the adapters (db/, hsm/, crl/, ocsp/, events/)
 * and the routes (api/routes/*); nothing points back up. Type-only imports count: `import type
 * { Service } from "./main.js"` in a module main.ts imports is a circle a reader has to untangle too.
 * The graph is read from the sources (TypeScript's import pre-processor), relative imports only.
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The folders of production code (docs/design.md §1); tests and benchmarks may import anything. */
const sourceFolders = ["api", "cli", "ca", "crl", "ocsp", "events", "db", "hsm"];

type Graph = ReadonlyMap<string, readonly string[]>;

function tsFilesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return tsFilesUnder(path);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** file (repo-relative) → the repo files it imports (relative specifiers, `.js` → `.ts`), type-only imports included. */
function importGraph(folders: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const folder of folders) {
    for (const file of tsFilesUnder(join(repoRoot, folder))) {
      const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
      const targets = importedFiles
        .map((f) => f.fileName)
        .filter((s) => s.startsWith("./") || s.startsWith("../"))
        .map((s) => resolve(dirname(file), s.replace(/\.js$/, ".ts")))
        .filter((p) => existsSync(p))
        .map((p) => relative(repoRoot, p));
      graph.set(relative(repoRoot, file), [...new Set(targets)]);
    }
  }
  return graph;
}

/** A set of files that import each other in a circle, and one circle through them to show. */
interface Cycle {
  /** Every file of the strongly connected component, sorted. */
  readonly files: string[];
  /** One path `a → b → … → a` inside it. */
  readonly path: string[];
}

const describeCycle = (c: Cycle): string => `${c.path.join(" → ")}${c.files.length > c.path.length - 1 ? ` (${c.files.length} files in the circle: ${c.files.join(", ")})` : ""}`;

/**
 * The cycles of `graph`: one per strongly connected component of more than one file (or a file that
 * imports itself) (Tarjan's algorithm, then a breadth-first path inside the component).
 */
function findCycles(graph: Graph): Cycle[] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    indexOf.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indexOf.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indexOf.get(w)!));
      }
    }
    if (low.get(v) === indexOf.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!indexOf.has(v)) visit(v);
  // A readable path through each component: breadth-first from its first file back to itself.
  return components.map((component) => ({ files: [...component].sort(), path: pathThrough(graph, component) }));
}

function pathThrough(graph: Graph, component: readonly string[]): string[] {
  {
    const members = new Set(component);
    const start = [...component].sort()[0]!;
    const previous = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
      const v = queue.shift()!;
      for (const w of graph.get(v) ?? []) {
        if (!members.has(w)) continue;
        if (w === start) {
          const path = [start];
          for (let u: string | undefined = v; u !== undefined && u !== start; u = previous.get(u)) path.splice(1, 0, u);
          return [...path, start];
        }
        if (!previous.has(w)) {
          previous.set(w, v);
          queue.push(w);
        }
      }
    }
    return [...component, component[0]!];
  }
}

describe("import cycles (issue 15: no circle)", () => {
  it("the cycle finder finds the circle issue 15 names, and says nothing of a tree", () => {
    // main.ts ↔ ca-generations.ts ↔ live-ca-generations.ts ↔ routes/admin-controls.ts, as it was.
    const before: Graph = new Map([
      ["api/main.ts", ["api/ca-generations.ts", "api/live-ca-generations.ts", "api/routes/admin-controls.ts", "api/config.ts"]],
      ["api/ca-generations.ts", ["api/main.ts"]],
      ["api/live-ca-generations.ts", ["api/main.ts", "api/issuing-authorities.ts"]],
      ["api/routes/admin-controls.ts", ["api/main.ts"]],
      ["api/issuing-authorities.ts", []],
      ["api/config.ts", []],
    ]);
    const cycles = findCycles(before);
    assert.equal(cycles.length, 1);
    assert.deepEqual(cycles[0]!.files, ["api/ca-generations.ts", "api/live-ca-generations.ts", "api/main.ts", "api/routes/admin-controls.ts"]);
    const path = cycles[0]!.path;
    assert.equal(path[0], path[path.length - 1], "a path that closes");
    assert.match(describeCycle(cycles[0]!), /4 files in the circle/);
    assert.deepEqual(findCycles(new Map([["a", ["b", "c"]], ["b", ["c"]], ["c", []]])), []);
    assert.deepEqual(findCycles(new Map([["a", ["a"]]])), [{ files: ["a"], path: ["a", "a"] }]);
  });

  it("api/ and cli/ import in one direction only: no cycle among their files", () => {
    const graph = importGraph(["api", "cli"]);
    assert.ok(graph.has("api/main.ts") && graph.has("cli/main.ts"), "the graph was read");
    const local = new Map([...graph].map(([file, targets]) => [file, targets.filter((t) => graph.has(t))]));
    assert.deepEqual(findCycles(local).map(describeCycle), []);
  });

  it("no cycle in the production code as a whole (api, cli, ca, crl, ocsp, events, db, hsm)", () => {
    assert.deepEqual(findCycles(importGraph(sourceFolders)).map(describeCycle), []);
  });

  it("nothing in api/ imports the composition root (api/main.ts); cli/ imports from api/ only config and main", () => {
    const graph = importGraph(["api", "cli"]);
    const intoMain = [...graph].filter(([file, targets]) => file.startsWith("api/") && targets.includes("api/main.ts")).map(([file]) => file);
    assert.deepEqual(intoMain, []);
    const cliIntoApi = [...graph].flatMap(([file, targets]) =>
      file.startsWith("cli/") ? targets.filter((t) => t.startsWith("api/") && t !== "api/config.ts" && t !== "api/main.ts").map((t) => `${file} → ${t}`) : [],
    );
    assert.deepEqual(cliIntoApi, []);
  });
});
