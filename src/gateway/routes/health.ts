import { createHash, timingSafeEqual } from 'node:crypto';
import type { Metrics } from '../../platform/obs/metrics.js';
import { AppError } from '../../protocol/errors.js';
import type { HttpRouter } from '../http.js';

export interface HealthDeps {
  metrics: Metrics;
  /** METRICS_TOKEN: /metrics needs it as a bearer token; unset, /metrics is not served. */
  metricsToken: string | undefined;
  isReady(): Promise<{ ready: boolean; reason?: string }>;
}

/** Liveness, readiness and Prometheus metrics. */
export function healthRoutes(router: HttpRouter, deps: HealthDeps) {
  // pid: which process answered (several workers share one port).
  router.public('get', '/healthz', undefined, () => ({ status: 200, body: { status: 'ok', pid: process.pid } }));
  router.public('get', '/readyz', undefined, async () => {
    const r = await deps.isReady();
    return r.ready ? { status: 200, body: { status: 'ready' } } : { status: 503, body: { status: 'unavailable', reason: r.reason } };
  });
  router.public('get', '/metrics', undefined, async ({ authorization }) => {
    if (deps.metricsToken === undefined) throw new AppError('not_found', 'no such endpoint');
    if (!sameSecret(/^Bearer\s+(\S+)$/i.exec(authorization.trim())?.[1] ?? '', deps.metricsToken))
      throw new AppError('unauthorized', 'metrics need METRICS_TOKEN as a bearer token');
    return {
      status: 200,
      text: await deps.metrics.registry.metrics(),
      contentType: deps.metrics.registry.contentType,
    };
  });
}

/** Compares in constant time (over digests, so lengths do not leak either). */
const sameSecret = (given: string, expected: string) =>
  timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());
