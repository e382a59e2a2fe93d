import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { assertKey, type BlobStore } from '../../features/attachments/blob-store.js';
import {
  BLOBS_DIR,
  type BackupHeader,
  type BackupSummary,
  backupHeader,
  backupSummary,
  DATABASE_DIR,
  HEADER,
  SECRET_FILES,
  safeEntryPath,
  type TarEntry,
  TRAILER,
} from './archive.js';

/** A backup that cannot be restored here, or a place it must not go; main.ts prints it as one line (exit 2). */
export class BackupRefused extends Error {
  override readonly name = 'BackupRefused';
}

export interface RestoreTarget {
  /** An empty DATA_DIR that this process has locked. */
  dataDir: string;
  /** Where restored attachments go (STORAGE_URL): files, or an object store. */
  blobs: BlobStore;
  /** Where attachments are written before the store takes them: a new directory under DATA_DIR. */
  stagingDir: string;
  /** This process's mode: an archive of the other mode is refused before anything is written. */
  storage: BackupHeader['storage'];
}

/** Extracts an archive of archive.ts into `target`, streaming; refuses one without its trailer. */
export async function unpackBackup(input: Readable, target: RestoreTarget): Promise<{ header: BackupHeader; summary: BackupSummary }> {
  const extract = tar.extract();
  const feeding = pipeline(input, extract);
  let header: BackupHeader | undefined;
  let summary: BackupSummary | undefined;
  let staged = 0;
  const consume = async () => {
    for await (const source of extract) {
      const entry = source as unknown as TarEntry;
      const name = safeEntryPath(entry.header.name);
      if (summary) throw new BackupRefused(`${name} after the end of the backup`);
      if (!header) {
        if (name !== HEADER) throw new BackupRefused('not a banyan backup (it does not start with its header)');
        header = backupHeader.parse(JSON.parse(await small(entry)));
        refuseOtherMode(header, target.storage);
      } else if (name === TRAILER) {
        summary = backupSummary.parse(JSON.parse(await small(entry)));
      } else if ((SECRET_FILES as readonly string[]).includes(name)) {
        await writeDurably(entry, join(target.dataDir, name));
      } else if (name.startsWith(`${DATABASE_DIR}/`) && header.storage === 'pglite') {
        if (entry.header.type === 'directory') await mkdir(join(target.dataDir, name), { recursive: true, mode: 0o700 });
        else await writeDurably(fileEntry(entry), join(target.dataDir, name));
      } else if (name.startsWith(`${BLOBS_DIR}/`)) {
        const key = name.slice(BLOBS_DIR.length + 1);
        assertKey(key);
        const path = join(target.stagingDir, String(staged++));
        await writeDurably(fileEntry(entry), path);
        await target.blobs.putFile(key, path, entry.header.size ?? 0, 'application/octet-stream');
      } else {
        throw new BackupRefused(`unexpected entry ${name} in the backup`);
      }
    }
  };
  try {
    // Raced: a cut archive fails the feeding while the loop waits for an entry's end forever.
    await Promise.all([consume(), feeding]);
  } catch (err) {
    extract.destroy();
    await feeding.catch(() => {});
    throw err;
  }
  if (!header || !summary) throw new BackupRefused('the backup is incomplete (it has no end marker): was it cut short?');
  return { header, summary };
}

function refuseOtherMode(header: BackupHeader, here: BackupHeader['storage']): void {
  if (header.storage === here) return;
  throw new BackupRefused(
    header.storage === 'pglite'
      ? 'this backup holds an embedded (PGlite) database: restore it with DATABASE_URL unset'
      : 'this backup was taken in PostgreSQL mode and holds no database: restore the database with pg_restore, then this backup (its attachments) with DATABASE_URL set',
  );
}

function fileEntry(entry: TarEntry): TarEntry {
  if (entry.header.type !== 'file') throw new BackupRefused(`${entry.header.name} in the backup is a ${entry.header.type}, not a file`);
  return entry;
}

/** A JSON entry of the archive (a few hundred bytes; more is not ours). */
async function small(entry: TarEntry): Promise<string> {
  if ((entry.header.size ?? 0) > 65536) throw new BackupRefused(`${entry.header.name} is too large`);
  const chunks: Buffer[] = [];
  for await (const chunk of entry) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** A new file (never over an existing one), flushed to disk before it counts as restored. */
async function writeDurably(source: Readable, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await pipeline(source, createWriteStream(path, { flags: 'wx', mode: 0o600, flush: true }));
}
