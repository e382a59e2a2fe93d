import type { Readable } from 'node:stream';

/** A byte range of a stored blob, both ends inclusive (as HTTP `Range` counts them). */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Where attachment bytes live: local files under DATA_DIR or an S3-compatible bucket
 * (STORAGE_URL). Keys are opaque `[A-Za-z0-9./_-]` strings the caller chooses; blobs are immutable.
 */
export interface BlobStore {
  readonly kind: 'file' | 's3';
  /** Stores the file at `path` (a finished local temp file of `size` bytes) under `key`. */
  putFile(key: string, path: string, size: number, contentType: string): Promise<void>;
  /** The blob's bytes, or the given range of them; undefined when no such blob. */
  get(key: string, range?: ByteRange): Promise<Readable | undefined>;
  /** Removes the blob; removing one that is not there is no error. */
  delete(key: string): Promise<void>;
  /**
   * A short-lived URL that serves the blob without this server (S3 only), with the response
   * headers given; undefined where the store cannot make one.
   */
  presignGet(key: string, options: { expiresInS: number; contentType: string; contentDisposition: string }): Promise<string | undefined>;
  close(): Promise<void>;
}

const KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,255}$/;

/** Refuses keys that could climb out of the store's root (`..`, absolute paths). */
export function assertKey(key: string): void {
  if (!KEY.test(key) || key.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new Error(`invalid blob key ${JSON.stringify(key)}`);
  }
}
