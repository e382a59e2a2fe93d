import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// `banyan/client` as a package user imports it: through package.json's export map, from the
// build (made by the global setup), in plain Node.

describe('package exports', () => {
  it('resolves banyan/client to the built SDK, with its types', () => {
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const m = await import('banyan/client'); console.log(JSON.stringify([typeof m.BanyanClient, typeof m.BanyanHttp, typeof m.parseServerFrame]))",
      ],
      { encoding: 'utf8' },
    );
    expect(JSON.parse(out)).toEqual(['function', 'function', 'function']);
    const resolved = execFileSync(process.execPath, ['--input-type=module', '-e', "console.log(import.meta.resolve('banyan/client'))"], {
      encoding: 'utf8',
    });
    expect(resolved.trim()).toMatch(/\/dist\/client\/index\.js$/);
    execFileSync('test', ['-f', 'dist/client/index.d.ts']);
  });
});
