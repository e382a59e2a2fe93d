import { execFileSync } from 'node:child_process';

/**
 * Global setup of the server tests: compile, since multi-replica tests spawn `node dist/main.js`
 * and the gateway serves the web client from dist/web.
 */
export default function setup() {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  execFileSync(process.execPath, ['web/build.mjs'], { stdio: 'inherit' });
}
