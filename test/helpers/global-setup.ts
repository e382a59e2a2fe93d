import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { migrationsFolder, openStorage } from '../../src/db/connect.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string;
  }
}

/**
 * Once per run: compile (multi-replica tests spawn `node dist/main.js`; the gateway serves the
 * web client from dist/web) and prepare a migrated
 * PGlite data directory that each test server copies, since a fresh PGlite takes ~8 s to create.
 */
export default async function setup(project: TestProject) {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  execFileSync(process.execPath, ['web/build.mjs'], { stdio: 'inherit' });
  const hash = createHash('sha256');
  for (const file of readdirSync(migrationsFolder).sort()) {
    if (file.endsWith('.sql')) hash.update(readFileSync(join(migrationsFolder, file)));
  }
  const template = join(tmpdir(), `banyan-pglite-template-${hash.digest('hex').slice(0, 12)}`);
  if (!existsSync(join(template, 'ready'))) {
    const building = `${template}.building-${process.pid}`;
    rmSync(building, { recursive: true, force: true });
    const storage = await openStorage({ dataDir: building, poolSize: 1 });
    await storage.close();
    execFileSync('touch', [join(building, 'ready')]);
    rmSync(template, { recursive: true, force: true });
    renameSync(building, template);
  }
  project.provide('pgliteTemplate', template);
}
