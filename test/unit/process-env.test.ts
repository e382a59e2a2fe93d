import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// Configuration is parsed once, in src/platform/config.ts, and handed to modules as sections:
// a module that read the environment itself would escape its validation and README's table.

const root = new URL('../../', import.meta.url).pathname;
const ONLY_READER = 'src/platform/config.ts';
/** `process.env`, `process['env']`, and `env` imported from node:process. */
const READS_ENV = [
  /\bprocess\s*(\?\.|\.)\s*env\b/,
  /\bprocess\s*\[\s*['"`]env['"`]\s*\]/,
  /import\s*\{[^}]*\benv\b[^}]*\}\s*from\s*['"](node:)?process['"]/,
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx|js|mjs|cjs)$/.test(entry.name) ? [path] : [];
  });
}

function environmentReaders(files: { path: string; text: string }[]): string[] {
  return files.flatMap(({ path, text }) =>
    text.split('\n').flatMap((line, i) => (READS_ENV.some((re) => re.test(line)) ? [`${path}:${i + 1}: ${line.trim()}`] : [])),
  );
}

describe('process.env', () => {
  it(`is read in src/ by ${ONLY_READER} alone`, () => {
    const files = sourceFiles(join(root, 'src'))
      .map((path) => ({ path: relative(root, path), text: readFileSync(path, 'utf8') }))
      .filter(({ path }) => path !== ONLY_READER);
    expect(files.length).toBeGreaterThan(50);
    expect(environmentReaders(files)).toEqual([]);
  });

  it('the check catches each way of reading it', () => {
    const readers = environmentReaders([
      { path: 'a.ts', text: 'const port = process.env.PORT;' },
      { path: 'b.ts', text: "const env = { ...process['env'] };" },
      { path: 'c.ts', text: "import { argv, env } from 'node:process';" },
      { path: 'd.ts', text: 'const environment = "process"; // no env read here' },
    ]);
    expect(readers.map((r) => r.split(':')[0])).toEqual(['a.ts', 'b.ts', 'c.ts']);
  });
});
