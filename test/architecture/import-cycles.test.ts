// Issue 10: no folder of src/ may depend on itself through others. The
// folders are the architecture (ARCHITECTURE.md); a cycle between two of them
// means neither can be understood, tested or loaded without the other.
// Every import counts, `import type` and dynamic `import()` included.
import { describe, test, expect } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The folder of src/ a file belongs to ('.' for files directly in src/). */
const folderOf = (file: string) => {
  const rel = relative(SRC, file);
  return rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : '.';
};

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

/** folder → folder → the imports that make the edge (for the failure message). */
function folderGraph(): Map<string, Map<string, string[]>> {
  const graph = new Map<string, Map<string, string[]>>();
  for (const file of sourceFiles(SRC)) {
    const from = folderOf(file);
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = resolve(dirname(file), match[1]);
      if (!target.startsWith(SRC)) continue; // views/, migrations/, config files: outside the graph
      const to = folderOf(target);
      if (to === from) continue;
      const edges = graph.get(from) ?? new Map<string, string[]>();
      graph.set(from, edges);
      edges.set(to, [...(edges.get(to) ?? []), `${relative(SRC, file)} → ${match[1]}`]);
    }
  }
  return graph;
}

/** Strongly connected components with more than one folder (Tarjan). */
function cyclesOf(graph: Map<string, Map<string, string[]>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let next = 0;
  const visit = (node: string) => {
    index.set(node, next);
    low.set(node, next++);
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node)?.keys() ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return components;
}

describe('the folders of src/', () => {
  const graph = folderGraph();

  test('the checker sees the imports (it is not vacuously green)', () => {
    expect(graph.get('server')?.has('provider')).toBe(true);
    expect(graph.size).toBeGreaterThan(10);
  });

  test('import each other without cycles', () => {
    const cycles = cyclesOf(graph).map((component) => {
      const edges = component.flatMap((from) => component.flatMap((to) => (graph.get(from)?.get(to) ?? []).map((edge) => `    ${edge}`)));
      return `  ${component.join(' ↔ ')}:\n${edges.join('\n')}`;
    });
    expect(cycles.join('\n')).toBe('');
  });

  test('src/http is a leaf: it imports no other folder', () => {
    expect([...(graph.get('http')?.keys() ?? [])]).toEqual([]);
  });
});
