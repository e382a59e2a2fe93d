import { join, resolve } from 'node:path';
import { invalidSetting } from '../../platform/config.js';
import type { BlobStore } from './blob-store.js';
import { FileBlobStore } from './file-blob-store.js';

/**
 * STORAGE_URL → a BlobStore. Unset: files under DATA_DIR/blobs. `file:///abs/path`: files there.
 * `s3://[key:secret@]bucket[/prefix]?endpoint=…&region=…&pathStyle=true|false`: an S3-compatible
 * bucket (credentials from the URL or the AWS SDK's default chain).
 */
export async function openBlobStore(storageUrl: string | undefined, dataDir: string): Promise<BlobStore> {
  if (!storageUrl) return new FileBlobStore(resolve(join(dataDir, 'blobs')));
  const url = new URL(storageUrl);
  if (url.protocol === 'file:') return new FileBlobStore(resolve(decodeURIComponent(url.pathname)));
  if (url.protocol !== 's3:') throw new Error(`unsupported STORAGE_URL scheme ${url.protocol}`);
  const bucket = url.hostname;
  if (!bucket) throw new Error('STORAGE_URL s3:// needs a bucket');
  const path = decodeURIComponent(url.pathname).replace(/^\/+/, '');
  const endpoint = url.searchParams.get('endpoint') ?? undefined;
  // Loaded only when used: the AWS SDK is large, and file storage never needs it.
  const { S3BlobStore } = await import('./s3-blob-store.js');
  return new S3BlobStore({
    bucket,
    endpoint,
    region: url.searchParams.get('region') ?? 'us-east-1',
    prefix: path ? `${path.replace(/\/+$/, '')}/` : '',
    credentials: url.username
      ? { accessKeyId: decodeURIComponent(url.username), secretAccessKey: decodeURIComponent(url.password) }
      : undefined,
    // Path-style addressing is what S3-compatible services on one host answer to.
    forcePathStyle: (url.searchParams.get('pathStyle') ?? (endpoint ? 'true' : 'false')) === 'true',
  });
}

/**
 * Several replicas (REDIS_URL set) must each find every file: so a bucket, or local files that
 * every replica reaches (STORAGE_SHARED=on: NFS; or WORKERS on one machine, one DATA_DIR).
 * Otherwise a file uploaded through one replica is 404 on the others: refuse to start.
 */
export function assertFilesReachEveryReplica(settings: {
  redisUrl: string | undefined;
  storageUrl: string | undefined;
  storageShared: boolean;
  /** One of WORKERS processes on this machine (platform/workers.ts): they share DATA_DIR. */
  sameMachineWorker: boolean;
}): void {
  const local = !settings.storageUrl || settings.storageUrl.startsWith('file:');
  if (!settings.redisUrl || !local || settings.storageShared || settings.sameMachineWorker) return;
  throw invalidSetting(
    'STORAGE_URL',
    `several replicas (REDIS_URL is set) need one file store: set STORAGE_URL=s3://… (README "Running several replicas"), or STORAGE_SHARED=on if ${settings.storageUrl ? 'that directory' : 'DATA_DIR/blobs'} is shared by every replica (NFS)`,
    settings.storageUrl,
  );
}
