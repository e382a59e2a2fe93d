import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// docs/architecture.md "Code a newcomer can live in": no function in src/ or web/src is over 150 lines.

const MAX_LINES = 150;
const root = resolve(import.meta.dirname, '../..');

const walk = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : /\.tsx?$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });

/** Every function, method, arrow and accessor longer than `max` lines, as `file:line name (n lines)`. */
function longFunctions(path: string, text: string, max: number): string[] {
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const end = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = end - start + 1;
      const name = node.name && ts.isIdentifier(node.name) ? node.name.text : '(anonymous)';
      if (lines > max) found.push(`${relative(root, path)}:${start + 1} ${name} (${lines} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe('function length', () => {
  it(`no function in src/ or web/src is over ${MAX_LINES} lines`, () => {
    const files = [...walk(join(root, 'src')), ...walk(join(root, 'web/src'))];
    expect(files.flatMap((path) => longFunctions(path, readFileSync(path, 'utf8'), MAX_LINES))).toEqual([]);
  });

  it('the measure sees a long function (it can fail)', () => {
    const body = Array.from({ length: 10 }, (_, i) => `  const a${i} = ${i};`).join('\n');
    expect(longFunctions('x.ts', `function long() {\n${body}\n}\n`, 5)).toEqual(['x.ts:1 long (12 lines)']);
  });
});
