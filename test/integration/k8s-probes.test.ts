import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { copyPgliteTemplate } from '../helpers/pglite.js';
import { freePort, Replica, waitUntil } from '../helpers/replicas.js';

// deploy/k8s/deployment.yaml's probes against a real server process: the readiness probe (a GET of
// its path, as the kubelet makes it, on the test's free port) passes while
// the server serves and fails once SIGTERM starts the drain, while liveness (/healthz) stays 200 so
// that Kubernetes never restarts a draining pod.

const root = resolve(import.meta.dirname, '../..');
const container = parse(readFileSync(join(root, 'deploy/k8s/deployment.yaml'), 'utf8')).spec.template.spec.containers[0];

/** The readiness probe as the kubelet runs it: a GET of its path; ready on a status of 200–399. */
async function readiness(port: number): Promise<number> {
  const { path } = container.readinessProbe.httpGet as { path: string };
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return res.status >= 200 && res.status < 400 ? 0 : 1;
}

describe('the Kubernetes probes', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'banyan-k8s-'));
  let replica: Replica;
  beforeAll(async () => {
    copyPgliteTemplate(dataDir);
    replica = new Replica(0, await freePort(), {
      DATA_DIR: dataDir,
      DATABASE_URL: '',
      REDIS_URL: '',
      LOG_LEVEL: 'error',
      // Long enough that the test sees the drain's notice whole.
      DRAIN_NOTICE_MS: '60000',
    });
    await replica.start();
  });
  afterAll(async () => {
    await replica.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('say ready while serving, not ready from SIGTERM on, and alive throughout', { timeout: 60_000 }, async () => {
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect((await fetch(`${replica.url}/healthz`)).status).toBe(200);
    expect(await readiness(replica.port)).toBe(0);
    replica.kill('SIGTERM');
    await waitUntil(async () => (await readiness(replica.port)) !== 0, 30_000, 'the readiness probe to fail during the drain');
    expect(await replica.readyz()).toBe(503);
    expect((await fetch(`${replica.url}/healthz`)).status).toBe(200);
  });
});
