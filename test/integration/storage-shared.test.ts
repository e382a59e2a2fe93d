import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, killAll, noScaleServers, Replica, replicaEnv, track, waitUntil } from '../helpers/replicas.js';

// Several replicas (REDIS_URL) with local file storage refuse to start, unless the operator says
// the directory is shared (STORAGE_SHARED=on) or the processes are WORKERS of one machine.

const dataDir = mkdtempSync(join(tmpdir(), 'banyan-shared-'));
afterAll(async () => {
  await killAll();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The replica environment of the tests, without the harness's STORAGE_SHARED=on. */
const unshared = (env: Record<string, string> = {}) =>
  replicaEnv({
    databaseUrl: 'postgres://nobody@127.0.0.1:1/none',
    redisUrl: 'redis://127.0.0.1:1',
    env: { DATA_DIR: dataDir, STORAGE_SHARED: '', ...env },
  });

async function refusal(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['dist/main.js', 'start'], {
    env: { ...process.env, ...env, PORT: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const { code } = await track(child);
  return { code, stderr };
}

describe('several replicas and local files', { timeout: 60_000 }, () => {
  it('refuses REDIS_URL with files under DATA_DIR: one line, exit 2, before connecting anywhere', async () => {
    const { code, stderr } = await refusal(unshared());
    expect(code).toBe(2);
    expect(stderr).toMatch(
      /^banyan: invalid STORAGE_URL: several replicas \(REDIS_URL is set\) need one file store: set STORAGE_URL=s3:\/\/.*STORAGE_SHARED=on if DATA_DIR\/blobs is shared by every replica \(NFS\)\n$/,
    );
  });

  it('refuses a file:// STORAGE_URL likewise, naming it', async () => {
    const url = `file://${dataDir}/files`;
    const { code, stderr } = await refusal(unshared({ STORAGE_URL: url }));
    expect(code).toBe(2);
    expect(stderr).toBe(
      `banyan: invalid STORAGE_URL=${JSON.stringify(url)}: several replicas (REDIS_URL is set) need one file store: set STORAGE_URL=s3://… (README "Running several replicas"), or STORAGE_SHARED=on if that directory is shared by every replica (NFS)\n`,
    );
  });

  it('still refuses STORAGE_SHARED=off', async () => {
    expect((await refusal(unshared({ STORAGE_SHARED: 'off' }))).code).toBe(2);
  });

  describe.skipIf(noScaleServers)('with PostgreSQL and Redis', () => {
    it('starts with STORAGE_SHARED=on (the operator shares the directory)', async () => {
      const replica = new Replica(0, await freePort(), replicaEnv({ env: { DATA_DIR: dataDir, STORAGE_SHARED: 'on' } }));
      await replica.start();
      expect(await replica.readyz()).toBe(200);
      await replica.stop();
    });

    it('starts WORKERS=2 on one machine without STORAGE_SHARED: the workers share DATA_DIR', async () => {
      const port = await freePort();
      const env = { ...process.env, ...replicaEnv({ env: { DATA_DIR: dataDir, STORAGE_SHARED: '' } }), PORT: String(port) };
      const child = spawn(process.execPath, ['dist/main.js', 'start', '--workers', '2'], { env, stdio: 'ignore' });
      const exited = track(child);
      const readyz = () =>
        new Promise<number>((resolve) => {
          const req = request({ host: '127.0.0.1', port, path: '/readyz', agent: false }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', () => resolve(0));
          req.end();
        });
      try {
        await waitUntil(async () => (await readyz()) === 200, 30_000, 'workers ready');
      } finally {
        child.kill('SIGTERM');
      }
      expect(await exited).toStrictEqual({ code: 0, signal: null });
    });
  });
});
