import { createHash } from 'node:crypto';
import webpush from 'web-push';
import { OutboundHttp } from '../../platform/net/outbound.js';
import { BREAKER_FAILURES, BREAKER_MAX_OPEN_MS } from '../webhooks/index.js';
import { CircuitBreakers, type Clock, systemClock } from '../webhooks/index.js';
import type { Config } from '../../platform/config.js';
import type { VapidKeys } from './vapid.js';

// Web Push delivery (RFC 8030) of payloads encrypted by `web-push` (RFC 8291 aes128gcm) with a
// VAPID signature (RFC 8292). web-push builds each request; OutboundHttp sends it, for what
// web-push's own sender does not do: resolve-and-pin the address through the private-address
// guard, reuse connections, hand back Retry-After, and plain http for local tests.

export interface PushTarget {
  endpoint: string;
  p256dh: string;
  auth: string;
}

export type PushResult =
  | { outcome: 'accepted' }
  | { outcome: 'gone' } // 404/410: the subscription is dead
  | { outcome: 'retry'; retryAfterMs?: number; timedOut?: boolean } // 429, 5xx, timeouts, network errors
  | { outcome: 'rejected'; status: number }; // any other answer: retrying would not help

export interface PushOptions {
  topic: string;
  urgent: boolean;
  ttlS: number;
}

/** A group id as a Topic header: base64url, at most 32 characters (a hash when the id is not). */
export function topicOf(groupId: string): string {
  if (/^[A-Za-z0-9_-]{1,32}$/.test(groupId)) return groupId;
  return createHash('sha256').update(groupId).digest('base64url').slice(0, 32);
}

const VAPID_TTL_S = 12 * 3600;

export class PushSender {
  private readonly http: OutboundHttp;
  /** VAPID Authorization headers per push service origin: one signature per origin per few hours, not per push. */
  private readonly vapidByAudience = new Map<string, { header: string; until: number }>();

  /**
   * A breaker per push service origin, as for webhook endpoints: a subscription pointing at an
   * endpoint that never answers holds a push loop's batch for one timeout, then its origin's pushes
   * wait (answered `retry` at once, nothing sent) until a probe gets an answer, so it cannot hold
   * every batch that carries one of its pushes (docs/protocol.md §8 "Notifications").
   */
  private readonly breakers: CircuitBreakers;

  constructor(
    private readonly vapid: VapidKeys,
    outbound: Config['outbound'],
    private readonly clock: Clock = systemClock,
  ) {
    this.http = new OutboundHttp({ ...outbound, maxSockets: 128 });
    this.breakers = new CircuitBreakers(
      { failureThreshold: BREAKER_FAILURES, openMs: outbound.breakerMs, maxOpenMs: BREAKER_MAX_OPEN_MS },
      this.clock,
    );
  }

  async send(target: PushTarget, payload: string, options: PushOptions): Promise<PushResult> {
    let url: URL;
    try {
      url = new URL(target.endpoint);
    } catch {
      return { outcome: 'gone' };
    }
    if (!this.http.allows(url)) return { outcome: 'gone' };
    const details = webpush.generateRequestDetails(
      { endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } },
      payload,
      {
        vapidDetails: null as unknown as undefined,
        headers: { Authorization: this.vapidHeader(url.origin) },
        TTL: options.ttlS,
        urgency: options.urgent ? 'high' : 'normal',
        topic: options.topic,
        contentEncoding: 'aes128gcm',
      },
    );
    const origin = url.origin;
    const openUntil = this.breakers.openUntil(origin);
    if (openUntil > 0) return { outcome: 'retry', retryAfterMs: openUntil - this.clock.now() };
    if (this.breakers.room(origin, 1) === 0) return { outcome: 'retry', retryAfterMs: 1000 }; // a probe is out
    const probe = this.breakers.started(origin);
    const result = await this.post(url, details.headers as Record<string, string | number>, details.body as Buffer);
    if (result.outcome === 'retry') this.breakers.failed(origin, result.timedOut === true, probe);
    else this.breakers.succeeded(origin); // it answered: whatever it said, it is not stalling
    return result;
  }

  close(): void {
    this.http.close();
  }

  private vapidHeader(audience: string): string {
    const now = Date.now();
    const cached = this.vapidByAudience.get(audience);
    if (cached && cached.until > now) return cached.header;
    const expiration = Math.floor(now / 1000) + VAPID_TTL_S;
    const { Authorization } = webpush.getVapidHeaders(
      audience,
      this.vapid.subject,
      this.vapid.publicKey,
      this.vapid.privateKey,
      'aes128gcm',
      expiration,
    ) as { Authorization: string };
    // Renewed an hour before it expires, so no push carries a token about to run out.
    this.vapidByAudience.set(audience, { header: Authorization, until: now + (VAPID_TTL_S - 3600) * 1000 });
    return Authorization;
  }

  private async post(url: URL, headers: Record<string, string | number>, body: Buffer): Promise<PushResult> {
    const r = await this.http.post(url, headers, body);
    // A refused endpoint (private or internal address, a name that does not resolve) is dead, not retried.
    if ('error' in r) return r.refused ? { outcome: 'gone' } : { outcome: 'retry', timedOut: r.timedOut };
    if (r.status >= 200 && r.status < 300) return { outcome: 'accepted' };
    if (r.status === 404 || r.status === 410) return { outcome: 'gone' };
    if (r.status === 429 || r.status >= 500)
      return r.retryAfterMs === undefined ? { outcome: 'retry' } : { outcome: 'retry', retryAfterMs: r.retryAfterMs };
    return { outcome: 'rejected', status: r.status }; // 3xx too: redirects are not followed
  }
}
