import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { assertFilesReachEveryReplica } from '../../src/features/attachments/open-blob-store.js';
import { loadConfig } from '../../src/platform/config.js';

// Docker cannot run here: docker-compose.yml is checked as YAML and against what the server and
// deploy/haproxy.cfg expect of it (test/integration/compose-topology.test.ts runs the topology).

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

interface Service {
  image?: string;
  build?: string;
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }> | string[];
  ports?: string[];
  volumes?: string[];
  command?: string[];
}

function loadCompose(): Record<string, Service> {
  const doc = parseDocument(read('docker-compose.yml'), { uniqueKeys: true, prettyErrors: true });
  expect(doc.errors.map(String)).toEqual([]);
  expect(doc.warnings.map(String)).toEqual([]);
  return (doc.toJS({ maxAliasCount: 10 }) as { services: Record<string, Service> }).services;
}

const REPLICAS = ['banyan1', 'banyan2', 'banyan3'];
/** Compose's interpolation with sample values: `${X:?why}` is required, `${X:-d}` defaults to d. */
const interpolate = (value: string) =>
  value.replace(/\$\{(\w+)(?::([?-])([^}]*))?\}/g, (_, name: string, kind?: string, rest?: string) =>
    kind === '-' ? (rest ?? '') : `sample-${name.toLowerCase()}-0123456789abcdef0123456789abcdef`,
  );

describe('docker-compose.yml', () => {
  const services = loadCompose();

  it('has the object store, its one-shot init, three replicas and the balancer; every long-running service checks its health', () => {
    expect(Object.keys(services).sort()).toEqual(['banyan1', 'banyan2', 'banyan3', 'lb', 'minio', 'minio-init', 'postgres', 'redis']);
    for (const [name, service] of Object.entries(services)) {
      if (name === 'minio-init') continue;
      expect([name, service.healthcheck?.test.length]).toEqual([name, expect.any(Number)]);
    }
    for (const name of REPLICAS) {
      expect(services[name]!.healthcheck!.test.join(' ')).toContain('/readyz');
      expect(services[name]!.depends_on).toMatchObject({ 'minio-init': { condition: 'service_completed_successfully' } });
    }
  });

  it('gives every replica a configuration the server starts with: one bucket, the forwarded address trusted', () => {
    const init = services['minio-init']!.command!.join('\n');
    for (const name of REPLICAS) {
      const raw = services[name]!.environment!;
      const env = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, interpolate(String(v))]));
      const config = loadConfig(env);
      expect(config.server.trustProxy).toBe(1);
      expect(config.redis.url).toBe('redis://redis:6379');
      const storage = new URL(config.files.storageUrl!);
      expect([storage.protocol, storage.searchParams.get('endpoint')]).toEqual(['s3:', 'http://minio:9000']);
      // The bucket minio-init makes, and credentials the AWS SDK reads, for the user it makes.
      expect(init).toContain(`mc mb --ignore-existing store/${storage.hostname}`);
      expect(raw.AWS_ACCESS_KEY_ID).toBe(services['minio-init']!.environment!.S3_ACCESS_KEY);
      expect(raw.AWS_SECRET_ACCESS_KEY).toBe(services['minio-init']!.environment!.S3_SECRET_KEY);
      expect(() =>
        assertFilesReachEveryReplica({
          redisUrl: config.redis.url,
          storageUrl: config.files.storageUrl,
          storageShared: config.files.storageShared,
          sameMachineWorker: false,
        }),
      ).not.toThrow();
    }
  });

  it('takes every secret from the environment, required, never a default', () => {
    const secretName = /PASSWORD|SECRET|TOKEN/;
    const seen: string[] = [];
    for (const [name, service] of Object.entries(services)) {
      for (const [key, value] of Object.entries(service.environment ?? {})) {
        if (!secretName.test(key)) continue;
        seen.push(`${name}.${key}`);
        expect([name, key, value]).toEqual([name, key, expect.stringMatching(/^\$\{\w+:\?[^}]+\}$/)]);
      }
    }
    expect(seen).toContain('banyan1.JWT_SECRET');
    expect(seen).toContain('banyan1.METRICS_TOKEN');
    expect(seen).toContain('minio.MINIO_ROOT_PASSWORD');
    expect(seen).toContain('postgres.POSTGRES_PASSWORD');
    // The database password inside DATABASE_URL likewise.
    expect(services.banyan1!.environment!.DATABASE_URL).toMatch(
      /^postgres:\/\/banyan:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432\/banyan$/,
    );
  });

  it('runs deploy/haproxy.cfg, whose default addresses are the compose services', () => {
    const lb = services.lb!;
    expect(lb.volumes).toContain('./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro');
    expect(lb.ports).toContain('8080:8080');
    const cfg = read('deploy/haproxy.cfg');
    expect(cfg).toContain('presetenv LB_BIND ":8080"');
    REPLICAS.forEach((name, i) => {
      expect(cfg).toContain(`presetenv REPLICA${i + 1} "${name}:8080"`);
      expect(cfg).toContain(`server ${name} "\${REPLICA${i + 1}}"`);
    });
    expect(cfg).toMatch(/^\s+option forwardfor$/m);
    expect(cfg).toMatch(/^\s+bind "\$\{LB_BIND\}"$/m);
  });
});

describe('deploy/Caddyfile', () => {
  it('proxies to the three replicas, checks /readyz and sets the forwarded address', () => {
    const caddy = read('deploy/Caddyfile');
    expect(caddy).toContain(`reverse_proxy ${REPLICAS.map((r) => `${r}:8080`).join(' ')} {`);
    expect(caddy).toMatch(/^\s+health_uri \/readyz$/m);
    expect(caddy).toMatch(/^\s+header_up X-Forwarded-For \{client_ip\}$/m);
    expect(caddy).toMatch(/Strict-Transport-Security/);
  });
});
