import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import { generateDrizzleJson, generateMigration } from 'drizzle-kit/api';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationsFolder } from '../../src/platform/db/connect.js';
import * as schema from '../../src/platform/db/schema.js';
import { ownDatabase } from '../helpers/own-database.js';
import { copyPgliteTemplate } from '../helpers/pglite.js';
import { storageModes } from '../helpers/server.js';

// The migrations folder is what drizzle-kit writes, and every database migrated by an earlier
// release, or by main before the migrations were renumbered in journal order, ends up equal to a
// fresh one. drizzle-orm's migrator applies, in journal order, each entry whose `when` is above the
// last applied `created_at` (one number per database): a `when` out of order is silently skipped.

interface JournalEntry {
  idx: number;
  version: string;
  when: number;
  tag: string;
  breakpoints: boolean;
}
interface Journal {
  version: string;
  dialect: string;
  entries: JournalEntry[];
}
const journal: Journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8'));
const sqlOf = (tag: string) => readFileSync(join(migrationsFolder, `${tag}.sql`));
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const snapshotOf = (idx: number) =>
  JSON.parse(readFileSync(join(migrationsFolder, 'meta', `${String(idx).padStart(4, '0')}_snapshot.json`), 'utf8'));

/**
 * The journal as main had it before the renumbering (idx 9 twice, tags out of order), with the
 * sha256 of each file as it was: a database migrated by it stored these times and hashes.
 */
const journalBeforeRenumbering: Array<{ idx: number; tag: string; when: number; sha256: string }> = [
  { idx: 0, tag: '0000_init', when: 1795587109834, sha256: '109f8981aae56f64e6e6f752d09c945dab6fd8b740367ccbd8a1c162f4a104ce' },
  {
    idx: 1,
    tag: '0001_drop_community_settings',
    when: 1796102635916,
    sha256: 'a0400920b174fff51816ba7906d7310e2cf2c337f5539091a4fced077dd44045',
  },
  { idx: 2, tag: '0006_sessions_by_user', when: 1796118064797, sha256: '5b28d406f1d9632f8c81d2e0b3b86e07b60e602fd5c39f4dbcef05107cabad32' },
  { idx: 3, tag: '0003_governance', when: 1796119016800, sha256: '451260bf7af67a82cd948b61ddd62e193069415072c0ab92397ac6335df18d66' },
  { idx: 4, tag: '0002_privacy', when: 1796119500000, sha256: 'e88f21b39b74a8783b7e014aab5c5ed03025705a0ca633bf0047e5263e22f80a' },
  {
    idx: 5,
    tag: '0005_attachments_search',
    when: 1796120100000,
    sha256: 'da3cbfc0b57a9e8d25fd2784771519492a9d1f5f214c79aff8baaa9b8baf1353',
  },
  { idx: 6, tag: '0004_notifications', when: 1796120237879, sha256: '4bf220e1e894e25fb61c10151795ac5dbcaf67ca7f1f521bc4e470c71b63d111' },
  { idx: 7, tag: '0007_polls_events', when: 1796200000000, sha256: 'b42f27a620fcbe98a09d62e6785652e3dc7a528692cd38b45c10109d3dfcb382' },
  {
    idx: 8,
    tag: '0008_profiles_presence',
    when: 1796300000000,
    sha256: '475d3a973afcabad9d61f8eeed6bc7f2499edc00c5e297475d58d03498fd33cb',
  },
  { idx: 9, tag: '0009_pins_ttl', when: 1796400000000, sha256: '92f8f1a737ff5781d44e96eb6695bced9a8723778a3fe1bedffbf550ebe41f12' },
  { idx: 9, tag: '0012_webc', when: 1796700000000, sha256: 'dea6ac2d284688a12a831326abba032256b2133ba463c42655ca4c6046f16c00' },
  { idx: 10, tag: '0013_search_by_time', when: 1796800000000, sha256: 'd9d1eb3070a47146b3db3acc8dea0f1215a9ebd71a568aea4deab530d11c8b1a' },
];

/** Objects the migrations write by hand and the drizzle schema leaves out (schema.ts says why). */
const notInSchema = { columns: ['events.search'], indexes: ['events_search', 'events_text_trgm'] };

describe('the migrations folder', () => {
  it('is what drizzle-kit writes: entries in order, one file and one snapshot each, snapshots chained', () => {
    const tags = journal.entries.map((e) => e.tag);
    journal.entries.forEach((entry, i) => {
      expect(entry.idx).toBe(i);
      expect(entry.tag.slice(0, 5)).toBe(`${String(i).padStart(4, '0')}_`);
    });
    expect(readdirSync(migrationsFolder).filter((f) => f.endsWith('.sql'))).toEqual(tags.map((t) => `${t}.sql`));
    const snapshots = readdirSync(join(migrationsFolder, 'meta')).filter((f) => f.endsWith('_snapshot.json'));
    expect(snapshots).toEqual(tags.map((t) => `${t.slice(0, 4)}_snapshot.json`));
    let prevId = '00000000-0000-0000-0000-000000000000';
    for (let i = 0; i < tags.length; i++) {
      const snapshot = snapshotOf(i);
      expect(snapshot.prevId, `snapshot ${i}`).toBe(prevId);
      prevId = snapshot.id;
    }
  });

  it('has journal times that strictly increase (a later entry with an earlier time is never applied to an existing database)', () => {
    // drizzle-kit stamps a new entry with the current time; the last entries here carry round
    // times ahead of when they were written, so an entry generated before them needs its time raised.
    for (let i = 1; i < journal.entries.length; i++) {
      expect(journal.entries[i]!.when, journal.entries[i]!.tag).toBeGreaterThan(journal.entries[i - 1]!.when);
    }
  });

  it('holds the schema: drizzle-kit generate has nothing to write', async () => {
    const last = snapshotOf(journal.entries.length - 1);
    const current = generateDrizzleJson(schema, last.id, undefined, 'snake_case');
    expect(await generateMigration(last, current)).toEqual([]);
  });

  it('keeps each migration of main under its time and content, only its number changed', () => {
    // Migrations written since come after them.
    const renumbered = journal.entries.slice(0, journalBeforeRenumbering.length);
    expect(renumbered.map((e) => e.when)).toEqual(journalBeforeRenumbering.map((e) => e.when));
    renumbered.forEach((entry, i) => {
      expect(sha256(sqlOf(entry.tag)), entry.tag).toBe(journalBeforeRenumbering[i]!.sha256);
    });
  });
});

/** A migrations folder holding the given journal entries and their files. */
function folderWith(root: string, name: string, entries: Array<{ idx: number; tag: string; when: number; file: string }>): string {
  const folder = join(root, name);
  mkdirSync(join(folder, 'meta'), { recursive: true });
  for (const e of entries) copyFileSync(join(migrationsFolder, `${e.file}.sql`), join(folder, `${e.tag}.sql`));
  const written: Journal = {
    ...journal,
    entries: entries.map((e) => ({ idx: e.idx, version: '7', when: e.when, tag: e.tag, breakpoints: true })),
  };
  writeFileSync(join(folder, 'meta', '_journal.json'), JSON.stringify(written, null, 2));
  return folder;
}

interface Scratch {
  migrate(folder: string): Promise<void>;
  rows(query: string): Promise<Record<string, unknown>[]>;
  /** Runs statements separated by semicolons. */
  exec(statements: string): Promise<void>;
  close(): Promise<void>;
}

async function openScratch(mode: 'pglite' | 'postgres'): Promise<Scratch> {
  if (mode === 'pglite') {
    // The global setup's migrated database, emptied by each scenario: a new PGlite takes seconds to create.
    const dataDir = mkdtempSync(join(tmpdir(), 'banyan-migrations-pglite-'));
    copyPgliteTemplate(dataDir);
    const client = await PGlite.create({ dataDir: join(dataDir, 'pglite'), extensions: { pg_trgm } });
    const db = drizzlePglite({ client });
    return {
      migrate: (folder) => migratePglite(db, { migrationsFolder: folder }),
      rows: async (query) => (await client.query<Record<string, unknown>>(query)).rows,
      exec: async (statements) => void (await client.exec(statements)),
      async close() {
        await client.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const database = await ownDatabase('migrations');
  // Durability is no part of what this compares.
  const client = postgres(database.url, { max: 1, onnotice: () => {}, connection: { synchronous_commit: 'off' } });
  const db = drizzlePostgres({ client });
  return {
    migrate: (folder) => migratePostgres(db, { migrationsFolder: folder }),
    rows: async (query) => [...(await client.unsafe(query))] as Record<string, unknown>[],
    exec: async (statements) => void (await client.unsafe(statements).simple()),
    async close() {
      await client.end();
      await database.drop();
    },
  };
}

/** Everything a migration can change, one line per object, sorted. */
async function dump(db: Scratch): Promise<string[]> {
  const lines = (rows: Record<string, unknown>[]) => rows.map((row) => Object.values(row).join(' | '));
  const parts = await Promise.all([
    db.rows(`select 'extension', extname, extversion from pg_extension`),
    db.rows(`select 'table', table_name from information_schema.tables where table_schema = 'public'`),
    db.rows(
      `select 'column', table_name, column_name, ordinal_position, data_type, udt_name, column_default, is_nullable,
         is_generated, generation_expression from information_schema.columns where table_schema = 'public'`,
    ),
    db.rows(`select 'index', tablename, indexname, indexdef from pg_indexes where schemaname = 'public'`),
    db.rows(
      `select 'constraint', conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) from pg_constraint
         where connamespace = 'public'::regnamespace`,
    ),
    db.rows(`select 'sequence', sequence_name, data_type from information_schema.sequences where sequence_schema = 'public'`),
  ]);
  return parts.flatMap(lines).sort();
}

/** The applied migrations' times and hashes, as the migrator keeps them. */
const applied = (db: Scratch) =>
  db.rows(`select created_at::text as "when", hash from drizzle.__drizzle_migrations order by id`) as Promise<
    Array<{ when: string; hash: string }>
  >;

const appliedNow = () => journal.entries.map((e) => ({ when: String(e.when), hash: sha256(sqlOf(e.tag)) }));

/** What snapshot `idx` describes, in the terms of `dbObjects`. */
function snapshotObjects(idx: number): string[] {
  const out: string[] = [];
  for (const table of Object.values<any>(snapshotOf(idx).tables)) {
    out.push(`table ${table.name}`);
    for (const column of Object.values<any>(table.columns)) {
      out.push(`column ${table.name}.${column.name} ${column.notNull ? 'not null' : 'null'}`);
      if (column.primaryKey) out.push(`constraint ${table.name}_pkey`);
    }
    for (const name of Object.keys(table.indexes)) out.push(`index ${name}`);
    for (const kind of ['foreignKeys', 'compositePrimaryKeys', 'uniqueConstraints']) {
      for (const name of Object.keys(table[kind])) out.push(`constraint ${name}`);
    }
  }
  return out.sort();
}

/** The database's tables, columns, indexes and constraints, less what the schema leaves out. */
async function dbObjects(db: Scratch): Promise<string[]> {
  const rows = await Promise.all([
    db.rows(`select 'table ' || table_name as o from information_schema.tables where table_schema = 'public'`),
    db.rows(
      `select 'column ' || table_name || '.' || column_name || case is_nullable when 'YES' then ' null' else ' not null' end as o
         from information_schema.columns where table_schema = 'public'
         and table_name || '.' || column_name <> all(array['${notInSchema.columns.join("','")}'])`,
    ),
    db.rows(
      `select 'index ' || indexname as o from pg_indexes where schemaname = 'public'
         and indexname <> all(array['${notInSchema.indexes.join("','")}'])
         and indexname not in (select conname from pg_constraint where connamespace = 'public'::regnamespace)`,
    ),
    db.rows(
      `select 'constraint ' || conname as o from pg_constraint where connamespace = 'public'::regnamespace and contype in ('p', 'f', 'u')`,
    ),
  ]);
  return rows
    .flat()
    .map((r) => String(r.o))
    .sort();
}

describe.each(storageModes())('migrating (%s)', (mode) => {
  let db: Scratch;
  let root: string;
  let fresh: string[];

  /** Back to an empty database: each scenario starts from nothing, as a first install would. */
  async function reset() {
    await db.exec('drop schema if exists drizzle cascade; drop schema public cascade; create schema public');
    expect(await db.rows(`select 1 from pg_extension where extname <> 'plpgsql'`)).toEqual([]);
    expect(await db.rows(`select 1 from pg_class where relnamespace = 'public'::regnamespace`)).toEqual([]);
  }

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'banyan-migrations-'));
    db = await openScratch(mode);
    await reset();
    await db.migrate(migrationsFolder);
    fresh = await dump(db);
    expect(await applied(db)).toEqual(appliedNow());
  });
  afterAll(async () => {
    await db?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('one release at a time, from the first, ends equal to a fresh database; each step matches its snapshot', async () => {
    await reset();
    for (let n = 1; n <= journal.entries.length; n++) {
      const entries = journal.entries.slice(0, n).map((e) => ({ ...e, file: e.tag }));
      await db.migrate(folderWith(root, `prefix-${n}`, entries));
      expect(await applied(db)).toEqual(appliedNow().slice(0, n));
      expect(await dbObjects(db), `after ${entries[n - 1]!.tag}`).toEqual(snapshotObjects(n - 1));
    }
    expect(await dump(db)).toEqual(fresh);
  });

  it('a database at any step of main before the renumbering gets exactly the migrations it lacks', async () => {
    const byWhen = new Map(journal.entries.map((e) => [e.when, e.tag]));
    for (let n = 1; n <= journalBeforeRenumbering.length; n++) {
      await reset();
      const before = journalBeforeRenumbering.slice(0, n).map((e) => ({ ...e, file: byWhen.get(e.when)! }));
      await db.migrate(folderWith(root, `main-${n}`, before));
      expect((await applied(db)).map((a) => a.hash)).toEqual(before.map((e) => e.sha256));
      await db.migrate(migrationsFolder);
      expect(await applied(db), `from main's first ${n}`).toEqual(appliedNow());
      expect(await dump(db), `from main's first ${n}`).toEqual(fresh);
    }
  });

  it('applies nothing again to a database already up to date', async () => {
    await reset();
    await db.migrate(migrationsFolder);
    await db.migrate(migrationsFolder);
    expect(await applied(db)).toEqual(appliedNow());
    expect(await dump(db)).toEqual(fresh);
  });
});
