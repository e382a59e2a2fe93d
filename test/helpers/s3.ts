import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import S3rver from 's3rver';

export const S3_TEST_BUCKET = 'banyan-test';

/**
 * An S3-compatible server on 127.0.0.1 for tests: the one `.ci/run` started (S3_TEST_ENDPOINT),
 * else s3rver in this process. `storageUrl()` gives a STORAGE_URL under a fresh prefix each call,
 * so tests sharing the server do not see each other's blobs.
 */
export async function startS3(): Promise<{ endpoint: string; storageUrl(): string; stop(): Promise<void> }> {
  let endpoint = process.env.S3_TEST_ENDPOINT;
  let stop = async () => {};
  if (!endpoint) {
    const dir = mkdtempSync(join(tmpdir(), 'banyan-s3-'));
    const server = new S3rver({
      port: 0,
      address: '127.0.0.1',
      silent: true,
      directory: dir,
      configureBuckets: [{ name: S3_TEST_BUCKET }],
    });
    const { port } = await server.run();
    endpoint = `http://127.0.0.1:${port}`;
    stop = async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  const base = endpoint;
  return {
    endpoint: base,
    storageUrl: () =>
      `s3://S3RVER:S3RVER@${S3_TEST_BUCKET}/t${randomBytes(6).toString('hex')}?endpoint=${encodeURIComponent(base)}&region=us-east-1`,
    stop,
  };
}
