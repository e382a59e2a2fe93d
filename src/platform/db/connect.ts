import { fsyncSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { NodeFS } from '@electric-sql/pglite/nodefs';
import type { SQL } from 'drizzle-orm';
import { PgDialect, type PgDatabase, type PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { lockDataDir } from './data-dir-lock.js';
import * as schema from './schema.js';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
/** What a transaction callback receives; queries take `Db | Tx` so they run inside or outside one. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type Queryable = Db | Tx;

/** How drizzle names columns in SQL (schema.ts): every handle below, and the dialect of executePrepared. */
const casing = 'snake_case';
const dialect = new PgDialect({ casing });

/**
 * Runs a statement the query builder cannot express as one the driver prepares: on PostgreSQL,
 * parsed and planned once per connection, then one round trip per call instead of two (postgres.js
 * asks for an unprepared statement's parameter types first). For hot writes only, whose text never
 * varies (values go in as parameters) and whose plan does not depend on them. Answers as
 * `db.execute` does: rows on PostgreSQL, `{ rows }` on PGlite.
 */
export function executePrepared(db: Queryable, name: string, statement: SQL): Promise<unknown> {
  return db._.session.prepareQuery(dialect.sqlToQuery(statement), undefined, name, false).execute();
}

export interface Storage {
  readonly db: Db;
  /**
   * Session starts' prepared reads (hot-reads.ts). On PostgreSQL, their own small pool planned
   * once per connection (`plan_cache_mode=force_generic_plan`): PostgreSQL re-plans an
   * `= any($1)` statement at every execution otherwise, since the generic plan's row estimate
   * (10) looks dearer than one key's custom plan, and planning cost more than running it. Their
   * own connections also keep session-start bursts from queueing ahead of message commits.
   * Elsewhere the same handle as `db`.
   */
  readonly reads: Db;
  readonly kind: 'postgres' | 'pglite';
  /** Resolves when the database answers a trivial query (for /readyz). */
  ping(): Promise<void>;
  /**
   * PGlite only: its data directory as an uncompressed tarball, taken between two queries (as a
   * crash would leave it: opening it replays the WAL), while the server goes on (platform/backup).
   */
  dumpDataDir?(): Promise<Blob>;
  close(): Promise<void>;
}

export const migrationsFolder = fileURLToPath(new URL('../../../migrations', import.meta.url));

// Any fixed number works: replicas starting together take turns applying migrations.
const MIGRATION_LOCK_ID = 0x62616e79;

export interface StorageOptions {
  databaseUrl?: string | undefined;
  dataDir: string;
  poolSize: number;
  /** Connections of `reads` (PostgreSQL only); without it, `reads` is `db`. */
  readPoolSize?: number;
  /** Embedded mode: a commit reaches the disk before it is acknowledged (EMBEDDED_FSYNC). Default on. */
  embeddedFsync?: boolean;
}

/** Opens PostgreSQL (postgres.js) when a URL is given, else PGlite on disk under dataDir. */
export async function openStorage(options: StorageOptions): Promise<Storage> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options.poolSize, options.readPoolSize) : openPglite(options);
}

/** Applies the committed migrations; safe to call from several replicas at once. */
export async function runMigrations(options: StorageOptions): Promise<void> {
  if (!options.databaseUrl) {
    const storage = await openPglite(options);
    await storage.close();
    return;
  }
  // One dedicated connection, so the advisory lock and the migration share a session.
  const client = postgres(options.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await client`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    await migratePostgres(drizzlePostgres({ client, schema, casing }), { migrationsFolder });
    await client`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
  } finally {
    await client.end({ timeout: 5 });
  }
}

async function openPostgres(url: string, poolSize: number, readPoolSize: number | undefined): Promise<Storage> {
  const open = (max: number, connection: Record<string, string> = {}) =>
    postgres(url, {
      max,
      onnotice: () => {},
      // Fail a query quickly when the server is gone instead of queueing it forever.
      connect_timeout: 5,
      idle_timeout: 60,
      connection,
    });
  const client = open(poolSize);
  const readClient = readPoolSize === undefined ? undefined : open(readPoolSize, { plan_cache_mode: 'force_generic_plan' });
  const db = drizzlePostgres({ client, schema, casing }) as unknown as Db;
  const reads = readClient ? (drizzlePostgres({ client: readClient, schema, casing }) as unknown as Db) : db;
  return {
    db,
    reads,
    kind: 'postgres',
    async ping() {
      await client`select 1`;
    },
    async close() {
      await Promise.all([client.end({ timeout: 5 }), readClient?.end({ timeout: 5 })]);
    },
  };
}

async function openPglite(options: StorageOptions): Promise<Storage> {
  const dataDir = options.dataDir.replace(/\/$/, '');
  const dir = `${dataDir}/pglite`;
  await mkdir(dir, { recursive: true });
  const lock = lockDataDir(dataDir);
  let client: PGlite;
  try {
    client = await PGlite.create(
      // pg_trgm: search's substring index (migration 0005); PostgreSQL has it in its contrib package.
      options.embeddedFsync === false
        ? { dataDir: dir, extensions }
        : { fs: new DurableNodeFS(dir), startParams: durableStartParams, extensions },
    );
  } catch (err) {
    lock.release();
    throw err;
  }
  const pglite = drizzlePglite({ client, schema, casing });
  // PGlite is one embedded process, and the lock keeps other processes out: no writer can race this.
  await migratePglite(pglite, { migrationsFolder });
  return {
    db: pglite as unknown as Db,
    reads: pglite as unknown as Db,
    kind: 'pglite',
    async ping() {
      await client.query('select 1');
    },
    dumpDataDir: () => client.dumpDataDir('none'),
    async close() {
      try {
        await client.close();
      } finally {
        lock.release();
      }
    },
  };
}

/**
 * PGlite's defaults without `-F` (fsync off), and WAL flushed with fsync(): its Emscripten
 * runtime turns fdatasync() (PostgreSQL's default on Linux) into a no-op, but fsync() into the
 * file system's `fsync`, which DurableNodeFS provides.
 */
const extensions = { pg_trgm };

const durableStartParams = [...PGlite.defaultStartParams.filter((p) => p !== '-F'), '-c', 'wal_sync_method=fsync'];

/** PGlite's NodeFS, whose files can be synced: Emscripten's NODEFS has no `fsync`, so fsync() never reached the disk. */
class DurableNodeFS extends NodeFS {
  override async init(...args: Parameters<NodeFS['init']>) {
    const result = await super.init(...args);
    const preRun = result.emscriptenOpts.preRun ?? [];
    preRun.push((mod) => {
      const nodefs = (mod as unknown as { NODEFS: { stream_ops: Record<string, unknown> } }).NODEFS;
      nodefs.stream_ops.fsync = (stream: { nfd: number }) => {
        fsyncSync(stream.nfd);
        return 0;
      };
    });
    return { emscriptenOpts: { ...result.emscriptenOpts, preRun } };
  }
}
