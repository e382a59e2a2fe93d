import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

// docs/architecture.md "Features": a feature imports only the platform, the core (protocol, delivery,
// bus, the gateway's router types) and other features' index.ts. This test is that rule.

const src = resolve(import.meta.dirname, '../../src');
const features = join(src, 'features');
const coreAllowed = ['platform', 'protocol', 'delivery', 'bus'].map((d) => join(src, d) + sep);
const coreFiles = ['gateway/http.ts', 'gateway/rate-limits.ts', 'gateway/commands/context.ts'].map((f) => join(src, f));

const walk = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith('.ts') ? [path] : [];
  });

const featureOf = (path: string) => relative(features, path).split(sep)[0];

/** Relative specifiers of static imports, re-exports and dynamic imports. */
const specifiers = (text: string) =>
  [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1] as string);

function forbiddenImports(): string[] {
  const wrong: string[] = [];
  for (const file of walk(features)) {
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      const sameFeature = target.startsWith(features + sep) && featureOf(target) === featureOf(file);
      const otherIndex = target.startsWith(features + sep) && target === join(features, featureOf(target) as string, 'index.ts');
      const core = coreAllowed.some((dir) => target.startsWith(dir)) || coreFiles.includes(target);
      if (!sameFeature && !otherIndex && !core) wrong.push(`${relative(src, file)} imports ${spec}`);
    }
  }
  return wrong;
}

describe('feature boundaries', () => {
  it('a feature imports only the platform, the core and other features through their index.ts', () => {
    expect(forbiddenImports()).toEqual([]);
  });

  it('every feature has an index.ts', () => {
    const missing = readdirSync(features).filter((name) => !statSync(join(features, name, 'index.ts'), { throwIfNoEntry: false }));
    expect(missing).toEqual([]);
  });

  it('the check sees a deep import (it can fail)', () => {
    expect(specifiers(`import { x } from '../groups/queries.js';`)).toEqual(['../groups/queries.js']);
  });
});
