import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { inject } from 'vitest';
import { openStorage, type Db } from '../../src/platform/db/connect.js';

/** Puts the global setup's migrated PGlite database into a data directory (a fresh one takes ~10 s). */
export function copyPgliteTemplate(dataDir: string): void {
  cpSync(join(inject('pgliteTemplate'), 'pglite'), join(dataDir, 'pglite'), { recursive: true });
}

export interface TestDb {
  db: Db;
  client: PGlite;
  /** Queries sent to PGlite outside transactions so far. */
  readonly queries: number;
  /** Statements sent so far, inside transactions too (BEGIN and COMMIT are not counted). */
  readonly statements: number;
  /** Holds back the answer of the next query (read when it runs) until `release()`. */
  holdNextAnswer(): { read: Promise<void>; release: () => void };
  close(): Promise<void>;
}

/** A migrated PGlite of its own in a temp dir, its statements counted, for db-tier tests of code that queries storage. */
export async function openTestDb(): Promise<TestDb> {
  const dataDir = mkdtempSync(join(tmpdir(), 'banyan-unit-'));
  copyPgliteTemplate(dataDir);
  const storage = await openStorage({ dataDir, poolSize: 1 });
  const client = (storage.db as unknown as { $client: PGlite }).$client;
  let queries = 0;
  let statements = 0;
  let hold: { read: () => void; gate: Promise<void> } | undefined;
  const query = client.query.bind(client);
  client.query = (async (...args: Parameters<PGlite['query']>) => {
    queries++;
    statements++;
    const held = hold;
    hold = undefined;
    const result = await query(...args);
    if (held) {
      held.read();
      await held.gate;
    }
    return result;
  }) as PGlite['query'];
  const transaction = client.transaction.bind(client);
  client.transaction = ((callback: Parameters<PGlite['transaction']>[0]) =>
    transaction((tx) => {
      const txQuery = tx.query.bind(tx);
      tx.query = ((...args: Parameters<typeof tx.query>) => {
        statements++;
        return txQuery(...args);
      }) as typeof tx.query;
      return callback(tx);
    })) as PGlite['transaction'];
  return {
    db: storage.db,
    client,
    get queries() {
      return queries;
    },
    get statements() {
      return statements;
    },
    holdNextAnswer() {
      let read!: () => void;
      let release!: () => void;
      const done = new Promise<void>((r) => (read = r));
      hold = { read, gate: new Promise<void>((r) => (release = r)) };
      return { read: done, release };
    },
    async close() {
      await storage.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
