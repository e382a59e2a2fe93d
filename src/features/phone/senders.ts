import { randomBytes } from 'node:crypto';
import type { Logger } from '../../platform/obs/logger.js';
import type { Clock } from '../../platform/clock.js';
import type { Job } from '../../platform/jobs/job.js';
import { JobTrigger } from '../../platform/jobs/job.js';
import { OutboundHttp } from '../../platform/net/outbound.js';
import { standardWebhookHeaders } from '../../platform/net/standard-webhooks.js';
import type { CodePurpose } from './queries.js';

// How a one-time code reaches its number (docs/protocol.md §2 "Phone numbers and one-time codes"):
// handed to a background job, never sent inside the request, so a request's answer and its time
// are the same whatever the sender does. The code is kept only in this process's memory until it
// is sent (storage keeps its HMAC): a replica that stops drops the codes it had not sent, and the
// member asks for another.

export interface CodeMessage {
  phone: string;
  code: string;
  purpose: CodePurpose;
  expiresAt: Date;
  locale?: string | undefined;
}

/** One attempt: `sent`, or a wait before the next (undefined: the usual backoff). */
export type SendOutcome = { sent: true } | { sent: false; error: string; retryAfterMs?: number | undefined };

export interface CodeSender {
  readonly kind: 'console' | 'webhook';
  send(message: CodeMessage, id: string): Promise<SendOutcome>;
  close(): void;
}

/** Development: the code in the server's log, at info, marked so it is not missed. */
export const consoleSender = (logger: Logger): CodeSender => ({
  kind: 'console',
  async send(m) {
    logger.info('ONE-TIME CODE (OTP_SENDER=console: not for production)', {
      otp: { phone: m.phone, code: m.code, purpose: m.purpose, expiresAt: m.expiresAt.toISOString() },
    });
    return { sent: true };
  },
  close() {},
});

/**
 * The operator's SMS or WhatsApp gateway: a POST of `{type: "otp.requested", timestamp, data}`
 * signed with Standard Webhooks, like the community webhooks (the same signing). The URL is the
 * operator's own, so it may be on a private address.
 */
export function webhookSender(settings: { url: string; secret: string; timeoutMs: number }): CodeSender {
  const http = new OutboundHttp({ allowPrivate: true, timeoutMs: settings.timeoutMs, maxSockets: 16, maxLookups: 1 });
  const url = new URL(settings.url);
  return {
    kind: 'webhook',
    async send(m, id) {
      const now = new Date();
      const body = JSON.stringify({
        type: 'otp.requested',
        timestamp: now.toISOString(),
        data: {
          phone: m.phone,
          code: m.code,
          purpose: m.purpose,
          expiresAt: m.expiresAt.toISOString(),
          ...(m.locale ? { locale: m.locale } : {}),
        },
      });
      const r = await http.post(
        url,
        {
          'content-type': 'application/json',
          'user-agent': 'Banyan-Webhooks/1',
          ...standardWebhookHeaders(settings.secret, id, now, body),
        },
        body,
      );
      if ('status' in r && r.status >= 200 && r.status < 300) return { sent: true };
      if ('status' in r) return { sent: false, error: `HTTP ${r.status}`, retryAfterMs: r.retryAfterMs };
      return { sent: false, error: r.error };
    },
    close: () => http.close(),
  };
}

interface Pending {
  id: string;
  message: CodeMessage;
  attempts: number;
  dueAt: number;
}

/** At most this many codes wait in one process (the limits keep it far lower); more are dropped, logged. */
const MAX_PENDING = 10_000;
const SENDS_AT_ONCE = 16;

/**
 * Codes waiting to go out, sent by the `phone.send` job: each retried with a doubling backoff
 * (1 s, 2 s, 4 s… or the gateway's Retry-After) until it is sent or its code has expired.
 */
export class CodeOutbox {
  private readonly pending: Pending[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly trigger = new JobTrigger();

  constructor(
    private readonly sender: CodeSender,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  /** Owes the message; the job sends it soon after the answer has gone. */
  owe(message: CodeMessage): void {
    if (this.pending.length >= MAX_PENDING) {
      this.logger.warn('one-time code dropped: too many waiting to be sent');
      return;
    }
    this.pending.push({ id: `otp_${randomBytes(12).toString('base64url')}`, message, attempts: 0, dueAt: this.clock.now() });
    this.trigger.kick();
  }

  job(): Job {
    return {
      name: 'phone.send',
      kind: 'queued',
      trigger: this.trigger,
      run: async () => {
        const now = this.clock.now();
        const due = this.pending.filter((p) => p.dueAt <= now).slice(0, Math.max(0, SENDS_AT_ONCE - this.inFlight.size));
        for (const p of due) {
          this.pending.splice(this.pending.indexOf(p), 1);
          const sending: Promise<void> = this.attempt(p).finally(() => {
            this.inFlight.delete(sending);
            this.trigger.kick();
          });
          this.inFlight.add(sending);
        }
        if (this.pending.length === 0) return { inMs: 60_000 };
        const next = Math.min(...this.pending.map((p) => p.dueAt));
        return { inMs: Math.max(this.inFlight.size >= SENDS_AT_ONCE ? 50 : 0, next - this.clock.now()) };
      },
      stop: async () => {
        await Promise.all(this.inFlight);
        this.sender.close();
      },
    };
  }

  private async attempt(p: Pending): Promise<void> {
    let outcome: SendOutcome;
    try {
      outcome = await this.sender.send(p.message, p.id);
    } catch (err) {
      outcome = { sent: false, error: err instanceof Error ? err.message : String(err) };
    }
    if (outcome.sent) return;
    p.attempts++;
    const wait = Math.max(1000 * 2 ** Math.min(p.attempts - 1, 8), Math.min(outcome.retryAfterMs ?? 0, 60_000));
    p.dueAt = this.clock.now() + wait;
    if (p.dueAt >= p.message.expiresAt.getTime()) {
      this.logger.warn('one-time code not sent before it expired', {
        sender: this.sender.kind,
        error: outcome.error,
        attempts: p.attempts,
      });
      return;
    }
    this.logger.info('one-time code not sent yet; retried', { sender: this.sender.kind, error: outcome.error, inMs: wait });
    this.pending.push(p);
  }
}
