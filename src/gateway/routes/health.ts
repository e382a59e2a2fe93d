import { createHash, timingSafeEqual } from 'node:crypto';
import type { Metrics } from '../../platform/obs/metrics.js';
import { AppError } from '../../protocol/errors.js';
import { z } from 'zod';
import { type HttpRouter, parseQuery } from '../http.js';

const status = (value: string) => z.object({ status: z.literal(value) }).loose();

export interface HealthDeps {
  metrics: Metrics;
  /** METRICS_TOKEN: /metrics needs it as a bearer token; unset, /metrics is not served. */
  metricsToken: string | undefined;
  /** `degraded`: only the bus is down (the replica still stores, acks and serves its own sockets). */
  isReady(): Promise<{ ready: boolean; reason?: string; degraded?: boolean }>;
}

/** Liveness, readiness and Prometheus metrics. */
export function healthRoutes(router: HttpRouter, deps: HealthDeps) {
  // pid: which process answered (several workers share one port).
  router.public('get', '/healthz', undefined, { 200: status('ok').extend({ pid: z.number() }) }, () => ({
    status: 200,
    body: { status: 'ok', pid: process.pid },
  }));
  const unavailable = status('unavailable').extend({ reason: z.string() });
  const ready = z.union([status('ready'), status('degraded').extend({ reason: z.string() })]);
  // `?bus=optional` is for an orchestrator that routes by readiness alone (Kubernetes): the bus is
  // down for every replica at once, and each still serves its own sockets, so none is taken out.
  const readyQuery = z.object({ bus: z.enum(['required', 'optional']).default('required') });
  router.public('get', '/readyz', undefined, { 200: ready, 503: unavailable, query: readyQuery }, async ({ query }) => {
    const { bus } = parseQuery(query, readyQuery);
    const r = await deps.isReady();
    if (r.ready) return { status: 200, body: { status: 'ready' } };
    if (r.degraded && bus === 'optional') return { status: 200, body: { status: 'degraded', reason: r.reason } };
    return { status: 503, body: { status: 'unavailable', reason: r.reason } };
  });
  router.public('get', '/metrics', undefined, { 200: { contentType: 'text/plain; version=0.0.4' } }, async ({ authorization }) => {
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
