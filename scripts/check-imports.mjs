#!/usr/bin/env node
// Fails when the folders of src/ import each other in a cycle, printing the cycle's path
// with one import that makes each edge, e.g.
//   data -> llm (src/data/build/builder.ts imports src/llm/store.ts)
//   llm -> generate (...) -> tokenize (...) -> data (...)
// Checked at every level: the top-level folders of src/, and the sibling subfolders inside
// each folder (src/data/io vs src/data/formats, …). Files directly inside a folder are not a
// node of that folder's level (an index.ts may re-export its subfolders); type-only imports
// count, because they are design dependencies too.
// Usage: node scripts/check-imports.mjs [root]   (root defaults to src/)
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

const repo = resolve(new URL("..", import.meta.url).pathname);
const root = resolve(process.argv[2] ?? join(repo, "src"));

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

// static `import … from "x"`, `export … from "x"`, bare `import "x"`, and `import("x")`
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm;

/** Relative imports of one file, resolved to files under root (a .js specifier names the .ts source). */
function importsOf(file) {
  const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
  const out = [];
  for (const m of text.matchAll(SPECIFIER)) {
    const spec = m[1];
    if (!spec.startsWith(".")) continue;
    const target = resolve(dirname(file), spec).replace(/\.(m?js)$/, ".ts");
    if (target.startsWith(root + sep)) out.push(target);
  }
  return out;
}

/** The folder path (relative to root) a file lives in, as segments. */
function folderOf(file) {
  const rel = relative(root, dirname(file));
  return rel === "" ? [] : rel.split(sep);
}

// edges[level folder][from child][to child] = an example "a.ts imports b.ts"
const edges = new Map();
function addEdge(parent, from, to, example) {
  if (!edges.has(parent)) edges.set(parent, new Map());
  const level = edges.get(parent);
  if (!level.has(from)) level.set(from, new Map());
  if (!level.get(from).has(to)) level.get(from).set(to, example);
}

for (const file of walk(root)) {
  const a = folderOf(file);
  for (const target of importsOf(file)) {
    const b = folderOf(target);
    // the deepest common folder, and the child of it each side lives in
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    if (i === a.length || i === b.length) continue; // one side is a plain file of the common folder
    const parent = a.slice(0, i).join("/");
    const example = `${relative(repo, file)} imports ${relative(repo, target)}`;
    addEdge(parent, a[i], b[i], example);
  }
}

/** One cycle per strongly connected component of a level (Tarjan), as a node list. */
function cyclesOf(level) {
  const nodes = new Set(level.keys());
  for (const m of level.values()) for (const n of m.keys()) nodes.add(n);
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const components = [];
  let counter = 0;
  const strong = (v) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of level.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) === index.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) components.push(comp);
    }
  };
  for (const v of [...nodes].sort()) if (!index.has(v)) strong(v);
  // a shortest cycle through the component's first node (breadth-first back to it)
  return components.map((comp) => {
    const inComp = new Set(comp);
    const start = [...comp].sort()[0];
    const prev = new Map([[start, null]]);
    const queue = [start];
    while (queue.length > 0) {
      const v = queue.shift();
      for (const w of level.get(v)?.keys() ?? []) {
        if (!inComp.has(w)) continue;
        if (w === start) {
          const path = [v];
          for (let p = prev.get(v); p !== null; p = prev.get(p)) path.unshift(p);
          return [...path, start];
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    return comp;
  });
}

let failures = 0;
for (const [parent, level] of [...edges].sort(([a], [b]) => a.localeCompare(b))) {
  for (const cycle of cyclesOf(level)) {
    failures++;
    const where = parent === "" ? relative(repo, root) : `${relative(repo, root)}/${parent}`;
    const lines = [`folder cycle in ${where}/: ${cycle.join(" -> ")}`];
    for (let k = 0; k + 1 < cycle.length; k++)
      lines.push(`  ${cycle[k]} -> ${cycle[k + 1]}: ${level.get(cycle[k]).get(cycle[k + 1])}`);
    console.error(lines.join("\n"));
  }
}
if (failures > 0) {
  console.error(`${failures} folder cycle(s): move the shared code below both folders`);
  process.exit(1);
}
console.log(`no folder cycles under ${relative(repo, root) || "."}/`);
