import http from 'node:http';
import https from 'node:https';
import { guardedLookup, PrivateAddressError } from './address-guard.js';

// POSTs to URLs that users gave (push endpoints, webhooks): through the private-address guard
// (checked on the address actually connected to), with a timeout, never following redirects,
// reusing connections. Node's http client is enough here; what it adds is those four rules.

export type PostResult = { status: number; retryAfterMs?: number } | { error: string; privateAddress: boolean }; // no answer: network error, timeout, refused target

export class OutboundHttp {
  private readonly httpsAgent: https.Agent;
  private readonly httpAgent: http.Agent;

  constructor(private readonly settings: { allowPrivate: boolean; timeoutMs: number; maxSockets?: number }) {
    const lookup = guardedLookup(settings.allowPrivate);
    const maxSockets = settings.maxSockets ?? 64;
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets, lookup });
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets, lookup });
  }

  /** http: only when private targets are allowed (local development and tests). */
  allows(url: URL): boolean {
    return url.protocol === 'https:' || (this.settings.allowPrivate && url.protocol === 'http:');
  }

  post(url: URL, headers: Record<string, string | number>, body: Buffer | string): Promise<PostResult> {
    if (!this.allows(url)) return Promise.resolve({ error: `${url.protocol} not allowed`, privateAddress: true });
    const secure = url.protocol === 'https:';
    return new Promise((resolve) => {
      const req = (secure ? https : http).request(
        url,
        { method: 'POST', headers, agent: secure ? this.httpsAgent : this.httpAgent, timeout: this.settings.timeoutMs },
        (res) => {
          res.resume(); // the body is not needed; drained so the connection is reused
          const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
          resolve(retryAfterMs === undefined ? { status: res.statusCode ?? 0 } : { status: res.statusCode ?? 0, retryAfterMs });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer in ${this.settings.timeoutMs} ms`)));
      req.on('error', (err) => resolve({ error: err.message, privateAddress: err instanceof PrivateAddressError }));
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
