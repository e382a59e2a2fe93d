import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The server's Prometheus metrics, one registry per app instance (tests run several). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    socketsOpen: new Gauge({ name: 'banyan_sockets_open', help: 'WebSockets open now', registers: [registry] }),
    eventsStored: new Counter({
      name: 'banyan_events_stored_total',
      help: 'Events appended to group logs',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    framesIn: new Counter({ name: 'banyan_frames_in_total', help: 'WebSocket frames received', registers: [registry] }),
    framesOut: new Counter({
      name: 'banyan_frames_out_total',
      help: 'Frames handed to uWS for sending (a topic publish counts once)',
      registers: [registry],
    }),
    errors: new Counter({
      name: 'banyan_errors_total',
      help: 'Error replies by protocol code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    appendBatch: new Histogram({
      name: 'banyan_append_batch_size',
      help: 'Messages stored per group-commit transaction',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers: [registry],
    }),
    gapFills: new Counter({ name: 'banyan_gap_fills_total', help: 'Out-of-order events filled from storage', registers: [registry] }),
    slowConsumers: new Counter({ name: 'banyan_slow_consumers_total', help: 'Sockets closed with 4000', registers: [registry] }),
    messagesExpired: new Counter({
      name: 'banyan_messages_expired_total',
      help: 'Disappearing messages erased by this replica',
      registers: [registry],
    }),
    // Background jobs (platform/jobs/runner.ts), by job name.
    jobRuns: new Counter({
      name: 'banyan_job_runs_total',
      help: 'Runs of background jobs',
      labelNames: ['job'] as const,
      registers: [registry],
    }),
    jobFailures: new Counter({
      name: 'banyan_job_failures_total',
      help: 'Runs of background jobs that failed (logged; the job runs again later)',
      labelNames: ['job'] as const,
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: 'banyan_job_duration_seconds',
      help: 'How long a run of a background job took',
      labelNames: ['job'] as const,
      buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 2, 10, 60],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
