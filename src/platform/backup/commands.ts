import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { access, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobStore } from '../../features/attachments/blob-store.js';
import { FileBlobStore } from '../../features/attachments/file-blob-store.js';
import { openBlobStore } from '../../features/attachments/open-blob-store.js';
import type { Config } from '../config.js';
import { openStorage, type Storage } from '../db/connect.js';
import { DataDirLocked, lockDataDir } from '../db/data-dir-lock.js';
import type { Logger } from '../obs/logger.js';
import { type BackupSource, packBackup } from './archive.js';
import { type ControlSocket, controlSocketPath, openControlSocket, requestBackup } from './control-socket.js';
import { BackupRefused, unpackBackup } from './restore.js';

// `banyan backup <file>` and `banyan restore <file>` (README "Backups"), and the server's side of
// an embedded backup taken while it runs.

export type Print = (line: string) => void;

const POSTGRES_GUIDANCE = [
  'PostgreSQL mode: this archive holds the attachments only. Back up the database with PostgreSQL tools, taken BEFORE this command',
  '(an attachment is stored before any message refers to it, so files copied after the dump cover everything the dump refers to):',
  '  pg_dump -Fc -f banyan.dump "$DATABASE_URL"        a logical backup; restore with pg_restore -d <empty database> banyan.dump',
  '  or base backups (pg_basebackup) + WAL archiving  point-in-time recovery: recover to a time before this command started',
  'JWT_SECRET (and VAPID keys, if set in the environment) live in your secret store, not here.',
];
const OBJECT_STORE_NOTE =
  'attachments in an object store (STORAGE_URL s3://) are not in this archive: back them up with the store itself (bucket versioning or replication)';

/** The server's side in embedded mode: the backup socket over its own storage (none with PostgreSQL). */
export async function openBackupSocket(config: Config, storage: Storage, blobs: BlobStore, logger: Logger): Promise<ControlSocket> {
  if (!storage.dumpDataDir) return { close: async () => {} };
  const source = embeddedSource(config.storage.dataDir, storage, blobs);
  return openControlSocket(config.storage.dataDir, (out) => packBackup(source, out), logger);
}

function embeddedSource(dataDir: string, storage: Storage, blobs: BlobStore): BackupSource {
  return {
    storage: 'pglite',
    dataDir,
    dumpDatabase: () => storage.dumpDataDir!(),
    ...(blobs instanceof FileBlobStore ? { blobFiles: () => blobs.files() } : {}),
  };
}

/**
 * Embedded mode: asks the server holding DATA_DIR for the archive, or opens DATA_DIR itself when no
 * server runs. PostgreSQL mode: the attachments, and how to back up the database. pg_dump is not
 * run for the operator: it must be as new as the server, and production databases want PITR,
 * which the operator's own PostgreSQL tooling schedules and watches.
 */
export async function runBackup(config: Config, file: string, print: Print): Promise<void> {
  const target = resolve(file);
  const { dataDir, databaseUrl } = config.storage;
  if (databaseUrl) return backupPostgresMode(config, target, print);
  const fromServer = await requestBackup(dataDir);
  if (fromServer) {
    await writeAtomically(target, (out) => pipeline(fromServer, out));
    print(`backup of the running server's DATA_DIR ${resolve(dataDir)} written to ${target} (${(await stat(target)).size} bytes)`);
  } else {
    const summary = await backupStopped(config, target);
    print(
      `backup of DATA_DIR ${resolve(dataDir)} written to ${target}: database, ${summary.blobs} attachment files (${summary.blobBytes} bytes)`,
    );
  }
  if (config.files.storageUrl?.startsWith('s3:')) print(OBJECT_STORE_NOTE);
}

async function backupStopped(config: Config, target: string) {
  const { dataDir } = config.storage;
  if (!existsSync(join(dataDir, 'pglite', 'PG_VERSION'))) throw new BackupRefused(`no embedded database in DATA_DIR ${resolve(dataDir)}`);
  let storage: Storage;
  try {
    storage = await openStorage({ ...config.storage, poolSize: 1 });
  } catch (err) {
    if (!(err instanceof DataDirLocked)) throw err;
    throw new BackupRefused(`${err.message}; its backup socket ${controlSocketPath(dataDir)} does not answer (still starting?)`);
  }
  try {
    const blobs = await openBlobStore(config.files.storageUrl, dataDir);
    try {
      return await writeAtomically(target, (out) => packBackup(embeddedSource(dataDir, storage, blobs), out));
    } finally {
      await blobs.close();
    }
  } finally {
    await storage.close();
  }
}

async function backupPostgresMode(config: Config, target: string, print: Print): Promise<void> {
  for (const line of POSTGRES_GUIDANCE) print(line);
  const { dataDir } = config.storage;
  const blobs = await openBlobStore(config.files.storageUrl, dataDir);
  try {
    if (!(blobs instanceof FileBlobStore)) {
      print(OBJECT_STORE_NOTE);
      print(`nothing to write to ${target}`);
      return;
    }
    const summary = await writeAtomically(target, (out) =>
      packBackup({ storage: 'postgres', dataDir, blobFiles: () => blobs.files() }, out),
    );
    print(`attachments written to ${target}: ${summary.blobs} files (${summary.blobBytes} bytes)`);
  } finally {
    await blobs.close();
  }
}

/** Writes `target` whole or not at all: a temp file beside it, flushed to disk, then renamed over it. */
async function writeAtomically<T>(target: string, produce: (out: Writable) => Promise<T>): Promise<T> {
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.partial`);
  try {
    const result = await produce(createWriteStream(temp, { flags: 'wx', mode: 0o600, flush: true }));
    await rename(temp, target);
    await syncDirectory(dirname(target));
    return result;
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Restores an archive of `banyan backup` into an empty DATA_DIR (refused otherwise), with its
 * attachments put in the configured store; on any failure DATA_DIR is left empty again.
 */
export async function runRestore(config: Config, file: string, print: Print): Promise<void> {
  const source = resolve(file);
  const dataDir = resolve(config.storage.dataDir);
  await access(source).catch(() => {
    throw new BackupRefused(`cannot read ${source}`);
  });
  await refuseNonEmpty(dataDir, 'DATA_DIR');
  const blobs = await openBlobStore(config.files.storageUrl, dataDir);
  try {
    if (blobs instanceof FileBlobStore && !blobs.root.startsWith(dataDir + sep))
      await refuseNonEmpty(blobs.root, 'the STORAGE_URL directory');
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    // A server started meanwhile would find a half-restored directory.
    const lock = lockDataDir(dataDir);
    try {
      const storage = config.storage.databaseUrl ? 'postgres' : 'pglite';
      const stagingDir = join(dataDir, 'uploads', `restore-${process.pid}`);
      const { summary } = await unpackBackup(createReadStream(source), { dataDir, blobs, stagingDir, storage }).catch(async (err) => {
        await emptyDirectory(dataDir, lock.path);
        throw new BackupRefused(`cannot restore ${source}: ${(err as Error).message} (DATA_DIR ${dataDir} was left empty)`);
      });
      await rm(stagingDir, { recursive: true, force: true });
      const what = storage === 'pglite' ? 'the database, ' : '';
      print(`restored ${what}${summary.blobs} attachment files and ${summary.secrets.length} secret files into ${dataDir}`);
      if (storage === 'postgres') print('restore the database with pg_restore (or your point-in-time recovery) before starting the server');
    } finally {
      lock.release();
    }
  } finally {
    await blobs.close();
  }
}

async function refuseNonEmpty(dir: string, what: string): Promise<void> {
  const entries = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  if (entries.length > 0)
    throw new BackupRefused(`${what} ${dir} is not empty: restore goes into an empty directory (nothing was changed)`);
}

async function emptyDirectory(dir: string, keep: string): Promise<void> {
  for (const entry of await readdir(dir)) {
    if (join(dir, entry) !== keep) await rm(join(dir, entry), { recursive: true, force: true });
  }
}
