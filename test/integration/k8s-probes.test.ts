import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { copyPgliteTemplate } from '../helpers/pglite.js';
import { freePort, Replica, waitUntil } from '../helpers/replicas.js';

// deploy/k8s/deployment.yaml's probes against a real server process: the readiness command (run as
// the kubelet runs it, with the manifest's port 8080 replaced by the test's free port) passes while
// the server serves and fails once SIGTERM starts the drain, while liveness (/healthz) stays 200 so
// that Kubernetes never restarts a draining pod.

const root = resolve(import.meta.dirname, '../..');
const container = parse(readFileSync(join(root, 'deploy/k8s/deployment.yaml'), 'utf8')).spec.template.spec.containers[0];

/** Runs the readiness probe's command; resolves with its exit code. */
function readiness(port: number): Promise<number> {
  const [command, ...args] = (container.readinessProbe.exec.command as string[]).map((a) => a.replaceAll(':8080/', `:${port}/`));
  return new Promise((done) =>
    execFile(command === 'node' ? process.execPath : command!, args, (error) => done(error ? Number(error.code) || 1 : 0)),
  );
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
