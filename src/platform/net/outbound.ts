import http from 'node:http';
import https from 'node:https';
import { guardedLookup, isRefusedTarget, REFUSED_TARGET } from './address-guard.js';

// POSTs to URLs that users gave (push endpoints, webhooks): through the private-address guard
// (checked on the address actually connected to), with a timeout, never following redirects,
// reusing connections. Node's http client is enough here; what it adds is those four rules.

/**
 * No answer: a network error, a timeout (`timedOut`), or a refused target (`refused`: a private
 * or internal address, a name that does not resolve, a scheme not allowed), whose error is always
 * REFUSED_TARGET whichever it was (docs/protocol.md §8).
 */
export type PostResult = { status: number; retryAfterMs?: number } | { error: string; refused: boolean; timedOut: boolean };

export class OutboundHttp {
  private readonly httpsAgent: https.Agent;
  private readonly httpAgent: http.Agent;

  constructor(
    private readonly settings: {
      allowPrivate: boolean;
      timeoutMs: number;
      maxSockets?: number;
      /** Name lookups at once: they run on libuv's small thread pool, which others (files, hashing) share. */
      maxLookups?: number;
    },
  ) {
    const lookup = guardedLookup(settings.allowPrivate, settings.maxLookups);
    const maxSockets = settings.maxSockets ?? 64;
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets, lookup });
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets, lookup });
  }

  /** http: only when private targets are allowed (local development and tests). */
  allows(url: URL): boolean {
    return url.protocol === 'https:' || (this.settings.allowPrivate && url.protocol === 'http:');
  }

  post(url: URL, headers: Record<string, string | number>, body: Buffer | string): Promise<PostResult> {
    if (!this.allows(url)) return Promise.resolve({ error: REFUSED_TARGET, refused: true, timedOut: false });
    const secure = url.protocol === 'https:';
    return new Promise((resolve) => {
      let timedOut = false;
      const req = (secure ? https : http).request(
        url,
        { method: 'POST', headers, agent: secure ? this.httpsAgent : this.httpAgent, timeout: this.settings.timeoutMs },
        (res) => {
          res.resume(); // the body is not needed; drained so the connection is reused
          const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
          resolve(retryAfterMs === undefined ? { status: res.statusCode ?? 0 } : { status: res.statusCode ?? 0, retryAfterMs });
        },
      );
      req.on('timeout', () => {
        timedOut = true;
        req.destroy(new Error(`no answer in ${this.settings.timeoutMs} ms`));
      });
      req.on('error', (err) => {
        const refused = isRefusedTarget(err);
        resolve({ error: refused ? REFUSED_TARGET : err.message, refused, timedOut: timedOut && !refused });
      });
      req.end(body);
    });
  }

  close(): void {
    this.httpsAgent.destroy();
    this.httpAgent.destroy();
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
