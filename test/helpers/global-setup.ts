import { execFileSync } from 'node:child_process';

/** Set once the build ran in this vitest process: the server and browser tiers share one build. */
const BUILT = Symbol.for('banyan.test.built');

/**
 * Global setup of the server and browser tests: compile, since multi-replica tests spawn
 * `node dist/main.js` and the gateway serves the web client from dist/web.
 */
export default function setup() {
  const state = globalThis as { [BUILT]?: boolean };
  if (state[BUILT]) return;
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  execFileSync(process.execPath, ['web/build.mjs'], { stdio: 'inherit' });
  state[BUILT] = true;
}
