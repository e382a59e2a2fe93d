import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Seconds buckets from 1 ms to 10 s: HTTP answers, statements and transactions. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/** What is owed and not yet done, counted at scrape time (trackOutboxBacklog). */
export interface OutboxBacklog {
  /** Stored messages whose notifications are not yet worked out (notify_outbox). */
  notifications: number;
  /** Pushes owed to users (push_queue rows with a count). */
  pushes: number;
  /** Webhook deliveries pending. */
  webhooks: number;
}

/**
 * The server's Prometheus metrics, one registry per app instance (tests run several). Hot paths
 * count once per message or request, never per fan-out recipient, and no label takes ids.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let readBacklog: (() => Promise<OutboxBacklog>) | undefined;
  let busHealthy: (() => boolean) | undefined;
  return {
    registry,
    /** Where outboxBacklog reads from at each scrape (the app sets it once storage is open). */
    trackOutboxBacklog(read: () => Promise<OutboxBacklog>): void {
      readBacklog = read;
    },
    /** Where busUp reads from at each scrape (the app sets it once the bus is open). */
    trackBus(healthy: () => boolean): void {
      busHealthy = healthy;
    },
    busUp: new Gauge({
      name: 'banyan_bus_up',
      help: 'Whether the bus delivers across replicas now (0: Redis lost, local delivery only, /readyz says degraded)',
      registers: [registry],
      collect() {
        if (busHealthy) this.set(busHealthy() ? 1 : 0);
      },
    }),
    outboxBacklog: new Gauge({
      name: 'banyan_outbox_backlog',
      help: 'Work owed and not yet done: notifications to work out, pushes to send, webhook deliveries pending',
      labelNames: ['kind'] as const,
      registers: [registry],
      async collect() {
        if (!readBacklog) return;
        const backlog = await readBacklog().catch(() => undefined);
        if (!backlog) return;
        for (const [kind, n] of Object.entries(backlog)) this.set({ kind }, n);
      },
    }),
    httpDuration: new Histogram({
      name: 'banyan_http_request_duration_seconds',
      help: 'HTTP answers by route pattern and status',
      labelNames: ['route', 'status'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    dbStatementDuration: new Histogram({
      name: 'banyan_db_statement_duration_seconds',
      help: 'Database statements, from the query to its answer',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    dbTransactionDuration: new Histogram({
      name: 'banyan_db_transaction_duration_seconds',
      help: 'Database transactions, from begin to commit or rollback (retries included)',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    dbConflictRetries: new Counter({
      name: 'banyan_db_conflict_retries_total',
      help: 'Transactions run again after a deadlock or serialization failure',
      registers: [registry],
    }),
    busPublished: new Counter({ name: 'banyan_bus_published_total', help: 'Messages published on the bus', registers: [registry] }),
    busReceived: new Counter({ name: 'banyan_bus_received_total', help: 'Messages received from the bus', registers: [registry] }),
    busReconnects: new Counter({
      name: 'banyan_bus_reconnects_total',
      help: 'Bus connections back after a loss, by connection',
      labelNames: ['connection'] as const,
      registers: [registry],
    }),
    pushes: new Counter({
      name: 'banyan_pushes_total',
      help: 'Push requests to devices by outcome: sent, retried (to be sent again), failed (refused or device gone)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    webhookDeliveries: new Counter({
      name: 'banyan_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome: delivered, retried, failed',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    socketsOpen: new Gauge({ name: 'banyan_sockets_open', help: 'WebSockets open now', registers: [registry] }),
    eventsStored: new Counter({
      name: 'banyan_events_stored_total',
      help: 'Events appended to group logs',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    commandDuration: new Histogram({
      name: 'banyan_command_duration_seconds',
      help: 'WebSocket commands by type, from the frame to the reply (a send: until its ack, stored)',
      labelNames: ['command'] as const,
      buckets: LATENCY_BUCKETS,
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
