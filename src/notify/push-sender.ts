import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import webpush from 'web-push';
import { guardedLookup, PrivateAddressError } from './address-guard.js';
import type { VapidKeys } from './vapid.js';

// Web Push delivery (RFC 8030) of payloads encrypted by `web-push` (RFC 8291 aes128gcm) with a
// VAPID signature (RFC 8292). web-push builds each request; this module sends it itself, for
// three things web-push's own sender does not do: resolve-and-pin the address through the
// private-address guard, reuse connections, and hand back Retry-After.

export interface PushTarget {
  endpoint: string;
  p256dh: string;
  auth: string;
}

export type PushResult =
  | { outcome: 'accepted' }
  | { outcome: 'gone' } // 404/410: the subscription is dead
  | { outcome: 'retry'; retryAfterMs?: number } // 429, 5xx, timeouts, network errors
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
  private readonly httpsAgent: https.Agent;
  private readonly httpAgent: http.Agent;
  /** VAPID Authorization headers per push service origin: one signature per origin per few hours, not per push. */
  private readonly vapidByAudience = new Map<string, { header: string; until: number }>();

  constructor(
    private readonly vapid: VapidKeys,
    private readonly settings: { allowPrivate: boolean; timeoutMs: number },
  ) {
    const lookup = guardedLookup(settings.allowPrivate);
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64, lookup });
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64, lookup });
  }

  async send(target: PushTarget, payload: string, options: PushOptions): Promise<PushResult> {
    let url: URL;
    try {
      url = new URL(target.endpoint);
    } catch {
      return { outcome: 'gone' };
    }
    if (url.protocol !== 'https:' && !(this.settings.allowPrivate && url.protocol === 'http:')) return { outcome: 'gone' };
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
    return this.post(url, details.headers as Record<string, string | number>, details.body as Buffer);
  }

  close(): void {
    this.httpsAgent.destroy();
    this.httpAgent.destroy();
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

  private post(url: URL, headers: Record<string, string | number>, body: Buffer): Promise<PushResult> {
    const secure = url.protocol === 'https:';
    return new Promise((resolve) => {
      const req = (secure ? https : http).request(
        url,
        { method: 'POST', headers, agent: secure ? this.httpsAgent : this.httpAgent, timeout: this.settings.timeoutMs },
        (res) => {
          res.resume(); // the body is not needed; drained so the connection is reused
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve({ outcome: 'accepted' });
          else if (status === 404 || status === 410) resolve({ outcome: 'gone' });
          else if (status === 429 || status >= 500) {
            const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
            resolve(retryAfterMs === undefined ? { outcome: 'retry' } : { outcome: 'retry', retryAfterMs });
          } else resolve({ outcome: 'rejected', status }); // 3xx too: redirects are not followed
        },
      );
      req.on('timeout', () => req.destroy(new Error('push request timed out')));
      req.on('error', (err) => {
        // An endpoint that resolves only to private addresses is treated as dead, not retried.
        resolve(err instanceof PrivateAddressError ? { outcome: 'gone' } : { outcome: 'retry' });
      });
      req.end(body);
    });
  }
}

/** Retry-After as delay-seconds or an HTTP date (RFC 9110), in ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
