#!/usr/bin/env node
// Builds dist/ (`npm run build`: tsc, then the web client's bundle) only when it is missing or older
// than what it is built from, so `npm start`, `npm run migrate` and `npm run token` start at once
// after the first time. Hand-written: a dozen lines of mtimes, where a build tool would be a dependency.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** What the build reads: a change to any file under these makes dist/ stale. */
export const BUILD_SOURCES = ['src', 'web', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'];
/** Written last by a build that succeeded whole; its mtime is the build's. */
export const STAMP = 'dist/.build-stamp';
/** What `npm start` runs, and what the gateway serves: gone means stale, whatever the stamp says. */
export const BUILD_OUTPUTS = ['dist/main.js', 'dist/web/index.html'];

/**
 * The decision alone: stale when the stamp or an output is missing (`undefined` mtime), or when any
 * source was modified after the stamp was written.
 * @param {{ stampMs: number | undefined, outputsMs: (number | undefined)[], newestSourceMs: number }} times
 * @returns {{ stale: boolean, reason?: string }}
 */
export function staleness({ stampMs, outputsMs, newestSourceMs }) {
  if (stampMs === undefined) return { stale: true, reason: 'no complete build yet' };
  if (outputsMs.some((ms) => ms === undefined)) return { stale: true, reason: 'part of dist/ is missing' };
  if (newestSourceMs > stampMs) return { stale: true, reason: 'sources changed since the last build' };
  return { stale: false };
}

/** mtime in ms, or undefined when the path does not exist. */
const mtimeMs = (path) => statSync(path, { throwIfNoEntry: false })?.mtimeMs;

/** The newest mtime of a file, or of every file under a directory (0 when there is none). */
export function newestMtimeMs(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtimeMs(join(path, name))), stat.mtimeMs);
}

/** Whether the build in `dir` (the repository root) is stale, and why. */
export function buildStaleness(dir = root) {
  return staleness({
    stampMs: mtimeMs(join(dir, STAMP)),
    outputsMs: BUILD_OUTPUTS.map((output) => mtimeMs(join(dir, output))),
    newestSourceMs: Math.max(...BUILD_SOURCES.map((source) => newestMtimeMs(join(dir, source)))),
  });
}

/** Builds when stale; says so on stderr (stdout stays the started command's). */
export function buildIfStale(dir = root) {
  const { stale, reason } = buildStaleness(dir);
  if (!stale) return false;
  process.stderr.write(`building dist/ (${reason}; ~30 s)\n`);
  // The stamp gets the time the build began: a source saved while it ran makes the next start build again.
  const began = new Date();
  // tsc writes its errors on stdout: send them to stderr too.
  execFileSync(process.execPath, [join(dir, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: dir,
    stdio: ['ignore', 2, 2],
  });
  execFileSync(process.execPath, [join(dir, 'web/build.mjs')], { cwd: dir, stdio: ['ignore', 2, 2] });
  writeFileSync(join(dir, STAMP), `${began.toISOString()}\n`);
  utimesSync(join(dir, STAMP), began, began);
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    buildIfStale();
  } catch {
    process.exit(1);
  }
}
