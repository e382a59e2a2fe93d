import { standardWebhookHeaders } from '../../platform/net/standard-webhooks.js';
import type { Db } from '../../platform/db/connect.js';
import {
  type ClaimedDelivery,
  claimDeliveries,
  deferDeliveries,
  failExpiredDeliveries,
  nextDeliveryDue,
  pruneDeliveries,
  settleDelivery,
} from './queries.js';
import type { Logger } from '../../platform/obs/logger.js';
import type { OutboundHttp } from '../../platform/net/outbound.js';
import { type Job, type JobLease, JobTrigger } from '../../platform/jobs/job.js';
import { type BreakerSettings, CircuitBreakers, type Clock, claimRoom, DeliverySlots, type SlotLimits, systemClock } from './lanes.js';
import type { Metrics } from '../../platform/obs/metrics.js';

export interface WebhookDispatcherSettings {
  leaseMs: number;
  pollMs: number;
  /** How long a webhook delivery is retried before it is marked failed. */
  retryMs: number;
  limits: SlotLimits;
  breaker: BreakerSettings;
}

/** Settled deliveries stay in the log this long. */
const DELIVERY_LOG_KEEP_MS = 7 * 24 * 3600_000;
const PRUNE_EVERY_MS = 60_000;
/** Consecutive failures (not 2xx, network errors) that open an endpoint's breaker; a timeout opens it at once. */
export const BREAKER_FAILURES = 5;
/** The longest an endpoint's breaker stays open between probes. */
export const BREAKER_MAX_OPEN_MS = 5 * 60_000;

type Backoff = (attempts: number, retryAfterMs?: number) => number;

/**
 * Delivers webhook events of every community, each in flight on its own (docs/protocol.md §8):
 * no batch waits for its slowest request. A claim takes only what the free slots allow, fairly
 * across communities and endpoints; a finished request frees its slot and wakes the next claim.
 * An endpoint that times out or keeps failing has its breaker opened: its deliveries wait (on
 * every replica, by their due time) until a single probe gets through. Pushes have loops and
 * connections of their own (NotifyWorker), so nothing here ever queues one.
 */
export class WebhookDispatcher {
  private readonly slots: DeliverySlots;
  private readonly breakers: CircuitBreakers;
  private readonly inFlight = new Set<Promise<void>>();
  /** Deliveries were owed or a slot freed: the delivery job claims now rather than at its next poll. */
  private readonly trigger = new JobTrigger();

  constructor(
    private readonly deps: {
      db: Db;
      http: OutboundHttp;
      token: string;
      logger: Logger;
      /** Delivery attempts by outcome. */
      metrics?: Pick<Metrics, 'webhookDeliveries'>;
      backoffMs: Backoff;
      settings: WebhookDispatcherSettings;
      clock?: Clock;
    },
  ) {
    this.slots = new DeliverySlots(deps.settings.limits);
    this.breakers = new CircuitBreakers(deps.settings.breaker, deps.clock ?? systemClock);
  }

  private get clock(): Clock {
    return this.deps.clock ?? systemClock;
  }

  /**
   * The delivery job (queued: kicked when deliveries are owed or a slot frees, else it polls) and
   * the log's pruning (periodic, one replica at a time under `lease`).
   */
  jobs(lease: JobLease): Job[] {
    return [
      {
        name: 'webhooks.deliver',
        kind: 'queued',
        everyMs: this.deps.settings.pollMs,
        trigger: this.trigger,
        run: async () => ((await this.claimAndStart()) > 0 ? { inMs: 0 } : { inMs: await this.idleMs() }),
        // Requests in flight are cut short (an endpoint may stall for PUSH_TIMEOUT_MS): settled for a retry.
        stop: async () => {
          this.deps.http.close();
          await Promise.all(this.inFlight);
        },
      },
      { name: 'webhooks.prune', kind: 'periodic', everyMs: PRUNE_EVERY_MS, jitterMs: PRUNE_EVERY_MS / 10, lease, run: () => this.prune() },
    ];
  }

  /**
   * Until when deliveries to `url` wait, its breaker being open here (undefined when not): new
   * ones are stored waiting too, so claims never scan past a growing pile of them.
   */
  pausedUntil(url: string): Date | undefined {
    const until = this.breakers.openUntil(url);
    return until > 0 ? new Date(until) : undefined;
  }

  /** Deliveries were owed or a slot was freed: claim now rather than at the next poll. */
  kick(): void {
    this.trigger.kick();
  }

  /** Leases what the free slots allow and starts each delivery; returns how many started. */
  async claimAndStart(): Promise<number> {
    const { db, token, settings } = this.deps;
    const room = claimRoom(this.slots, this.breakers, this.breakers.keys());
    if (room.free === 0) return 0;
    const claimed = await claimDeliveries(db, token, settings.leaseMs, room);
    for (const d of claimed) {
      this.slots.take(d.communityId, d.url);
      const probe = this.breakers.started(d.url);
      const running: Promise<void> = this.deliver(d, probe)
        .catch((err) => this.deps.logger.warn('webhook delivery failed; its lease will run out and it is retried', { err }))
        .finally(() => {
          this.slots.release(d.communityId, d.url);
          this.inFlight.delete(running);
          this.kick();
        });
      this.inFlight.add(running);
    }
    return claimed.length;
  }

  /** Nothing to start: until a slot frees (a kick) or, with nothing in flight, the next due time. */
  private async idleMs(): Promise<number> {
    const { pollMs } = this.deps.settings;
    if (this.slots.used > 0) return pollMs;
    const due = await nextDeliveryDue(this.deps.db);
    if (!due) return pollMs;
    return Math.max(5, Math.min(pollMs, due.getTime() - this.clock.now()));
  }

  private async prune(): Promise<void> {
    await pruneDeliveries(this.deps.db, DELIVERY_LOG_KEEP_MS);
    // A delivery an open breaker kept waiting to the end of its window is failed, not kept forever.
    await failExpiredDeliveries(this.deps.db, this.deps.settings.retryMs);
  }

  /** One attempt: signed POST, then delivered, failed for good, or pending again after a backoff. */
  private counted(outcome: 'delivered' | 'retried' | 'failed'): void {
    this.deps.metrics?.webhookDeliveries.inc({ outcome });
  }

  private async deliver(d: ClaimedDelivery, probe: boolean): Promise<void> {
    const { db, token, http, settings } = this.deps;
    const body = JSON.stringify(d.payload);
    const now = new Date(this.clock.now());
    let url: URL;
    try {
      url = new URL(d.url);
    } catch {
      this.counted('failed');
      await settleDelivery(db, token, d.id, { status: 'failed', httpStatus: null, error: 'invalid url' });
      return;
    }
    const r = await http.post(
      url,
      {
        'content-type': 'application/json',
        'user-agent': 'Banyan-Webhooks/1',
        ...standardWebhookHeaders(d.secret, d.id, now, body),
      },
      body,
    );
    if ('status' in r && r.status >= 200 && r.status < 300) {
      this.breakers.succeeded(d.url);
      this.counted('delivered');
      await settleDelivery(db, token, d.id, { status: 'delivered', httpStatus: r.status, error: null });
      return;
    }
    if ('refused' in r && r.refused) {
      // Never reachable: failed at once, with the one text every refused target gets (no retries to spend).
      this.counted('failed');
      await settleDelivery(db, token, d.id, { status: 'failed', httpStatus: null, error: r.error });
      return;
    }
    const httpStatus = 'status' in r ? r.status : null;
    const error = 'error' in r ? r.error : `HTTP ${r.status}`;
    const openUntil = this.breakers.failed(d.url, 'timedOut' in r && r.timedOut, probe);
    if (openUntil !== undefined) {
      this.deps.logger.info('webhook endpoint breaker open', { webhookUrlHost: url.host, forMs: openUntil - this.clock.now() });
      await deferDeliveries(db, d.url, new Date(openUntil), settings.retryMs);
    }
    const backoffUntil = this.clock.now() + this.deps.backoffMs(d.attempts, 'status' in r ? r.retryAfterMs : undefined);
    const windowEnd = d.createdAt.getTime() + settings.retryMs;
    if (backoffUntil > windowEnd) {
      this.counted('failed');
      await settleDelivery(db, token, d.id, { status: 'failed', httpStatus, error });
      return;
    }
    // While the breaker is open (opened by this failure or an earlier one), not before it closes.
    const nextAt = new Date(Math.min(windowEnd, Math.max(backoffUntil, this.breakers.openUntil(d.url))));
    this.counted('retried');
    await settleDelivery(db, token, d.id, { status: 'pending', httpStatus, error, nextAt });
  }
}
