import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BUILD_OUTPUTS, BUILD_SOURCES, buildStaleness, STAMP, staleness } from '../../scripts/build-if-stale.mjs';

// `npm start`, `npm run migrate` and `npm run token` build only when dist/ is missing or older than
// its sources (scripts/build-if-stale.mjs).

describe('the staleness decision', () => {
  const built = { stampMs: 2000, outputsMs: [1900, 1950], newestSourceMs: 1000 };

  it('is fresh when every source is older than the stamp', () => {
    expect(staleness(built)).toEqual({ stale: false });
    expect(staleness({ ...built, newestSourceMs: 2000 })).toEqual({ stale: false });
  });

  it('is stale without a stamp, with an output missing, or with a source newer than the stamp', () => {
    expect(staleness({ ...built, stampMs: undefined }).stale).toBe(true);
    expect(staleness({ ...built, outputsMs: [1900, undefined] }).stale).toBe(true);
    expect(staleness({ ...built, newestSourceMs: 2001 })).toEqual({ stale: true, reason: 'sources changed since the last build' });
  });
});

describe('the staleness of a work tree', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A tree with every source and output, each modified at `at` seconds (epoch). */
  function tree(at: number) {
    dir = mkdtempSync(join(tmpdir(), 'banyan-build-'));
    for (const path of [
      'src/gateway/http.ts',
      'web/src/main.ts',
      'web/build.mjs',
      ...BUILD_SOURCES.filter((s) => s.includes('.')),
      STAMP,
      ...BUILD_OUTPUTS,
    ])
      touch(path, at);
  }
  function touch(path: string, at: number) {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, '');
    utimesSync(full, at, at);
    // A directory's own mtime changes when an entry is added or removed: keep it at `at` too.
    for (let d = dirname(full); d.startsWith(dir) && d !== dir; d = dirname(d)) utimesSync(d, at, at);
  }

  it('is fresh right after a build', () => {
    tree(1000);
    touch(STAMP, 2000);
    expect(buildStaleness(dir)).toEqual({ stale: false });
  });

  it.each([
    'src/gateway/http.ts',
    'web/src/main.ts',
    'web/build.mjs',
    'tsconfig.json',
    'tsconfig.build.json',
    'package.json',
    'package-lock.json',
  ])('is stale once %s is newer than the build', (source) => {
    tree(1000);
    touch(STAMP, 2000);
    touch(source, 3000);
    expect(buildStaleness(dir).stale).toBe(true);
  });

  it('is stale when a source file is added or removed (its directory changes)', () => {
    tree(1000);
    touch(STAMP, 2000);
    touch('src/features/new/module.ts', 3000);
    expect(buildStaleness(dir).stale).toBe(true);
  });

  it('is stale when an output is gone', () => {
    tree(1000);
    rmSync(join(dir, 'dist/web/index.html'));
    expect(buildStaleness(dir)).toEqual({ stale: true, reason: 'part of dist/ is missing' });
  });

  it('is stale when the build never finished (no stamp)', () => {
    tree(1000);
    rmSync(join(dir, STAMP));
    expect(buildStaleness(dir)).toEqual({ stale: true, reason: 'no complete build yet' });
  });
});
