import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../src/features/attachments/blob-store.js';

const bytesOf = async (stream: Readable | undefined) => {
  if (!stream) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
};

/** What every BlobStore must do, run against each implementation (like runBusContract). */
export function runBlobStoreContract(name: string, factory: () => Promise<{ store: BlobStore; cleanup(): Promise<void> }>) {
  describe(`BlobStore contract: ${name}`, () => {
    let store: BlobStore;
    let cleanup: () => Promise<void>;
    const dir = mkdtempSync(join(tmpdir(), 'banyan-blob-'));
    const tempFile = (data: Buffer) => {
      const path = join(dir, randomBytes(6).toString('hex'));
      writeFileSync(path, data);
      return path;
    };

    beforeAll(async () => {
      ({ store, cleanup } = await factory());
    });
    afterAll(async () => {
      await store.close();
      await cleanup();
    });

    it('stores a file and gives the same bytes back', async () => {
      const data = randomBytes(300_000);
      await store.putFile('a/one', tempFile(data), data.length, 'application/octet-stream');
      expect((await bytesOf(await store.get('a/one')))?.equals(data)).toBe(true);
    });

    it('serves a byte range, both ends inclusive', async () => {
      const data = Buffer.from('0123456789abcdef');
      await store.putFile('a/range', tempFile(data), data.length, 'text/plain');
      expect((await bytesOf(await store.get('a/range', { start: 3, end: 6 })))?.toString()).toBe('3456');
      expect((await bytesOf(await store.get('a/range', { start: 15, end: 15 })))?.toString()).toBe('f');
    });

    it('answers undefined for a blob that is not there', async () => {
      expect(await store.get('a/missing')).toBeUndefined();
    });

    it('deletes, and deleting again is no error', async () => {
      const data = Buffer.from('bye');
      await store.putFile('a/gone', tempFile(data), data.length, 'text/plain');
      await store.delete('a/gone');
      expect(await store.get('a/gone')).toBeUndefined();
      await expect(store.delete('a/gone')).resolves.toBeUndefined();
    });

    it('refuses keys that climb out of its root', async () => {
      await expect(store.get('../etc/passwd')).rejects.toThrow(/invalid blob key/);
      await expect(store.putFile('/abs', tempFile(Buffer.from('x')), 1, 'text/plain')).rejects.toThrow(/invalid blob key/);
    });

    it('presigns a URL that serves the bytes with the given headers, or says it cannot', async () => {
      const data = Buffer.from('signed bytes');
      await store.putFile('a/signed', tempFile(data), data.length, 'text/plain');
      const url = await store.presignGet('a/signed', {
        expiresInS: 60,
        contentType: 'text/plain',
        contentDisposition: 'attachment; filename="x.txt"',
      });
      if (store.kind === 'file') {
        expect(url).toBeUndefined();
        return;
      }
      const res = await fetch(url!);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-disposition')).toBe('attachment; filename="x.txt"');
      expect(await res.text()).toBe('signed bytes');
    });
  });
}
