import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Db, openStorage, runMigrations } from '../../src/platform/db/connect.js';
import { ownDatabase } from './own-database.js';
import { copyPgliteTemplate } from './pglite.js';

export interface TestStorage {
  db: Db;
  close(): Promise<void>;
}

/**
 * The storages the db tier runs a file on: PGlite always (a copy of the migrated template), and
 * PostgreSQL too when DATABASE_URL is set (a migrated database of the file's own, dropped after).
 */
export function testStorages(): { name: string; open: () => Promise<TestStorage> }[] {
  const pglite = async (): Promise<TestStorage> => {
    const dataDir = mkdtempSync(join(tmpdir(), 'banyan-db-'));
    copyPgliteTemplate(dataDir);
    const storage = await openStorage({ dataDir, poolSize: 1 });
    return {
      db: storage.db,
      async close() {
        await storage.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  };
  const postgres = async (): Promise<TestStorage> => {
    const own = await ownDatabase('db');
    const options = { databaseUrl: own.url, dataDir: '', poolSize: 2 };
    await runMigrations(options);
    const storage = await openStorage(options);
    return {
      db: storage.db,
      async close() {
        await storage.close();
        await own.drop();
      },
    };
  };
  return [{ name: 'PGlite', open: pglite }, ...(process.env.DATABASE_URL ? [{ name: 'PostgreSQL', open: postgres }] : [])];
}
