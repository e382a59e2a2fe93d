import { chmod, mkdir, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, request } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import type { Logger } from '../obs/logger.js';
import type { BackupSummary } from './archive.js';

// How `banyan backup` reaches the server that holds an embedded DATA_DIR (no other process may
// open it): HTTP over a Unix socket inside DATA_DIR. Only the directory's owner can connect (a
// 0700 directory, a 0600 socket); no network port is opened, so nothing else needs authenticating.

export const controlSocketPath = (dataDir: string) => join(resolve(dataDir), 'control', 'banyan.sock');

/** Unix socket paths are limited to 108 bytes on Linux (less elsewhere). */
const MAX_SOCKET_PATH = 100;

export interface ControlSocket {
  close(): Promise<void>;
}

/** Listens for `POST /backup` and answers with the archive `backup` writes. */
export async function openControlSocket(
  dataDir: string,
  backup: (out: Writable) => Promise<BackupSummary>,
  logger: Logger,
): Promise<ControlSocket> {
  const path = controlSocketPath(dataDir);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    logger.warn('no backup socket: the DATA_DIR path is too long for a Unix socket; stop the server to back up', { path });
    return { close: async () => {} };
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await chmod(dirname(path), 0o700);
  // Left by a server that was killed: this process holds DATA_DIR's lock, so the name is ours.
  await rm(path, { force: true });
  const server = createServer((req, res) => {
    req.resume();
    if (req.method !== 'POST' || req.url !== '/backup') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-tar' });
    const started = Date.now();
    backup(res).then(
      (summary) => logger.info('backup sent', { ...summary, ms: Date.now() - started }),
      (err: unknown) => {
        logger.error('backup failed', { err });
        // A cut chunked answer: the client sees an error, never a short archive taken for whole.
        res.destroy(err as Error);
      },
    );
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  await chmod(path, 0o600);
  return {
    // Waits for a backup in flight: it reads storage, which closes after this.
    close: () => new Promise<void>((resolveClose) => server.close(() => resolveClose())),
  };
}

/** The archive from the server holding `dataDir`; undefined when no server listens there. */
export function requestBackup(dataDir: string): Promise<IncomingMessage | undefined> {
  return new Promise((resolveAnswer, reject) => {
    const req = request({ socketPath: controlSocketPath(dataDir), method: 'POST', path: '/backup' }, (res) => {
      if (res.statusCode === 200) return resolveAnswer(res);
      res.resume();
      reject(new Error(`the server's backup socket answered ${res.statusCode}`));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') resolveAnswer(undefined);
      else reject(err);
    });
    req.end();
  });
}
