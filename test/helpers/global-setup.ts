import { buildIfStale } from '../../scripts/build-if-stale.mjs';

/** Set once the build was checked in this vitest process: the server and browser tiers share one build. */
const BUILT = Symbol.for('banyan.test.built');

/**
 * Global setup of the server and browser tests: compile when the sources changed since the last
 * build (as `npm start` does), since multi-replica tests spawn `node dist/main.js` and the gateway
 * serves the web client from dist/web.
 */
export default function setup() {
  const state = globalThis as { [BUILT]?: boolean };
  if (state[BUILT]) return;
  buildIfStale();
  state[BUILT] = true;
}
