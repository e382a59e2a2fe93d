import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { z } from 'zod';

// A backup is one tar file laid out as DATA_DIR is (`tar -xf` into an empty DATA_DIR restores it
// by hand): a header, the embedded database under `pglite/`, the generated secrets, the
// attachment files under `blobs/`, and a trailer whose presence says the archive is whole.

export const HEADER = 'banyan-backup.json';
export const TRAILER = 'banyan-backup-end.json';
/** Secrets embedded mode generates into DATA_DIR (platform/auth/secret.ts, notifications/vapid.ts). */
export const SECRET_FILES = ['jwt-secret', 'vapid.json'] as const;
export const DATABASE_DIR = 'pglite';
export const BLOBS_DIR = 'blobs';

export const backupHeader = z.object({
  format: z.literal('banyan-backup'),
  version: z.literal(1),
  createdAt: z.string(),
  /** Where the database was: `pglite` archives hold it; `postgres` ones do not (pg_dump or PITR does). */
  storage: z.enum(['pglite', 'postgres']),
});
export type BackupHeader = z.infer<typeof backupHeader>;

export const backupSummary = z.object({
  databaseFiles: z.number().int().min(0),
  secrets: z.array(z.string()),
  blobs: z.number().int().min(0),
  blobBytes: z.number().int().min(0),
});
export type BackupSummary = z.infer<typeof backupSummary>;

export interface BackupSource {
  storage: BackupHeader['storage'];
  dataDir: string;
  /** PGlite: the data directory as a tarball, consistent between queries. */
  dumpDatabase?: () => Promise<Blob>;
  /** Attachment files kept on this machine (none when they live in an object store). */
  blobFiles?: () => AsyncIterable<{ key: string; path: string }>;
}

const now = () => new Date();

/** An entry being extracted: tar-stream's streamx Readable, which node's stream tools take as theirs. */
export type TarEntry = Readable & { header: tar.Header };

/**
 * Writes the archive of `source` to `out`, streaming: only the database dump is held in memory
 * (PGlite makes it so), never an attachment. The database comes first and the attachments after:
 * a blob is stored before any row refers to it (attachments.ts), so every attachment the dumped
 * database knows is already on disk when the files are listed.
 */
export async function packBackup(source: BackupSource, out: Writable): Promise<BackupSummary> {
  const pack = tar.pack();
  const written = pipeline(pack, out);
  const summary: BackupSummary = { databaseFiles: 0, secrets: [], blobs: 0, blobBytes: 0 };
  try {
    const header: BackupHeader = { format: 'banyan-backup', version: 1, createdAt: now().toISOString(), storage: source.storage };
    await addBuffer(pack, HEADER, Buffer.from(`${JSON.stringify(header)}\n`));
    if (source.dumpDatabase) summary.databaseFiles = await addDatabase(pack, await source.dumpDatabase());
    for (const name of SECRET_FILES) {
      const data = await readFile(join(source.dataDir, name)).catch(ignoreMissing);
      if (data === undefined) continue;
      await addBuffer(pack, name, data);
      summary.secrets.push(name);
    }
    for await (const blob of source.blobFiles?.() ?? []) {
      const size = await addFile(pack, `${BLOBS_DIR}/${blob.key}`, blob.path);
      if (size === undefined) continue;
      summary.blobs++;
      summary.blobBytes += size;
    }
    await addBuffer(pack, TRAILER, Buffer.from(`${JSON.stringify(summary)}\n`));
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    await written.catch(() => {});
    throw err;
  }
  await written;
  return summary;
}

function ignoreMissing(err: unknown): undefined {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  throw err;
}

function addBuffer(pack: tar.Pack, name: string, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) =>
    pack.entry({ name, size: data.length, mode: 0o600, mtime: now() }, data, (err) => (err ? reject(err) : resolve())),
  );
}

async function addStream(pack: tar.Pack, name: string, size: number, source: Readable): Promise<void> {
  let sink!: Writable;
  const done = new Promise<void>((resolve, reject) => {
    // tar-stream's streams are streamx ones, which node's pipeline drives as its own.
    sink = pack.entry({ name, size, mode: 0o600, mtime: now() }, (err) => (err ? reject(err) : resolve())) as unknown as Writable;
  });
  await Promise.all([pipeline(source, sink), done]);
}

function addDirectory(pack: tar.Pack, name: string): Promise<void> {
  return new Promise((resolve, reject) =>
    pack.entry({ name, type: 'directory', mode: 0o700, mtime: now() }, (err) => (err ? reject(err) : resolve())),
  );
}

/** One attachment file; undefined when it was swept since it was listed (its messages are gone). */
async function addFile(pack: tar.Pack, name: string, path: string): Promise<number | undefined> {
  const handle = await open(path, 'r').catch(ignoreMissing);
  if (!handle) return undefined;
  // Opened before it is measured: a sweep that unlinks it now changes neither its size nor its bytes.
  const { size } = await handle.stat();
  await addStream(pack, name, size, handle.createReadStream());
  return size;
}

/** PGlite's tarball of its data directory, entry by entry under `pglite/`. */
async function addDatabase(pack: tar.Pack, dump: Blob): Promise<number> {
  const extract = tar.extract();
  const feeding = pipeline(Readable.fromWeb(dump.stream() as WebReadableStream), extract);
  let files = 0;
  for await (const source of extract) {
    const entry = source as unknown as TarEntry;
    const name = safeEntryPath(entry.header.name.replace(/^\/+/, ''));
    if (entry.header.type === 'directory') {
      entry.resume();
      await addDirectory(pack, `${DATABASE_DIR}/${name}`);
    } else if (entry.header.type === 'file') {
      await addStream(pack, `${DATABASE_DIR}/${name}`, entry.header.size ?? 0, entry);
      files++;
    } else {
      throw new Error(`unexpected ${entry.header.type} ${name} in the database dump`);
    }
  }
  await feeding;
  return files;
}

const SAFE_PATH = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/** A relative path that stays inside the directory it is extracted into, or an error. */
export function safeEntryPath(name: string): string {
  const trimmed = name.replace(/\/+$/, '');
  if (!SAFE_PATH.test(trimmed) || trimmed.split('/').some((part) => part === '.' || part === '..')) {
    throw new Error(`unsafe path ${JSON.stringify(name)} in a backup archive`);
  }
  return trimmed;
}
