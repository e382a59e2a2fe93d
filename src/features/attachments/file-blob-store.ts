import { createReadStream, type Dirent } from 'node:fs';
import { copyFile, mkdir, opendir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { assertKey, type BlobStore, type ByteRange } from './blob-store.js';

/** Blobs as files under one directory (DATA_DIR/blobs by default). */
export class FileBlobStore implements BlobStore {
  readonly kind = 'file';

  constructor(readonly root: string) {}

  private pathOf(key: string): string {
    assertKey(key);
    return join(this.root, key);
  }

  async putFile(key: string, path: string, _size: number, _contentType: string): Promise<void> {
    const target = this.pathOf(key);
    await mkdir(dirname(target), { recursive: true });
    // A rename is atomic and free on one file system; across file systems, copy then rename.
    try {
      await rename(path, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      const partial = `${target}.partial`;
      await copyFile(path, partial);
      await rename(partial, target);
      await rm(path, { force: true });
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable | undefined> {
    const path = this.pathOf(key);
    try {
      await stat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return createReadStream(path, range ? { start: range.start, end: range.end } : {});
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  /**
   * Every stored blob's key and file, one directory entry at a time (backups walk millions of
   * them). Copies still in flight (`.partial`) are not blobs yet.
   */
  async *files(dir = this.root, prefix = ''): AsyncGenerator<{ key: string; path: string }> {
    let entries: AsyncIterable<Dirent>;
    try {
      entries = await opendir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for await (const entry of entries) {
      const path = join(dir, entry.name);
      const key = `${prefix}${entry.name}`;
      if (entry.isDirectory()) yield* this.files(path, `${key}/`);
      else if (entry.isFile() && !entry.name.endsWith('.partial')) yield { key, path };
    }
  }

  async presignGet(): Promise<string | undefined> {
    return undefined;
  }

  async close(): Promise<void> {}
}
