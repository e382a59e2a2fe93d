import type { Metrics } from '../../obs/metrics.js';
import type { HttpRouter } from '../http.js';

export interface HealthDeps {
  metrics: Metrics;
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
  router.public('get', '/metrics', undefined, async () => ({
    status: 200,
    text: await deps.metrics.registry.metrics(),
    contentType: deps.metrics.registry.contentType,
  }));
}
