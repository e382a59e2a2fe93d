import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { migrationsFolder, openStorage } from '../../src/platform/db/connect.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string;
  }
}

/**
 * Global setup: a migrated PGlite data directory that tests copy, since a fresh PGlite takes ~8 s
 * to create. Kept in tmpdir under the migrations' hash, so only a new migration pays for it.
 */
export default async function setup(project: TestProject) {
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
