import type { OutgoingMessage } from '../protocol/commands.js';
import type { FrameOf } from '../protocol/server-frames.js';
import { BanyanError } from './errors.js';

// Sends not yet acknowledged, per group, one in flight per group so that a group's messages are
// stored in the order they were sent. Each keeps its clientMsgId across retries and reconnects,
// so the server stores it once.

export interface PendingMessage extends OutgoingMessage {
  /** `failed` sends were refused for good (see `error`); the others are still being tried. */
  status: 'queued' | 'sending' | 'failed';
  error?: BanyanError;
}

export interface SendAck {
  group: string;
  seq: number;
  ts: string;
  clientMsgId: string;
}

export interface OutgoingHooks {
  /** Whether sends may go out now. */
  live(): boolean;
  /** The current connection, to tell whether a failure came from one that is gone. */
  connection(): unknown;
  /** Puts one message on the wire; resolves with its ack. */
  send(message: OutgoingMessage): Promise<FrameOf<'ack'>>;
  /** The pending sends of a group changed. */
  pending(change: { group: string; messages: PendingMessage[] }): void;
}

interface Outgoing extends PendingMessage {
  resolve(ack: SendAck): void;
  reject(error: BanyanError): void;
  inFlight: boolean;
  retryTimer?: ReturnType<typeof setTimeout>;
  retries: number;
}

export class OutgoingQueue {
  private readonly queues = new Map<string, Outgoing[]>();

  constructor(private readonly hooks: OutgoingHooks) {}

  /** Queues a message; resolves once the server acknowledged it, rejects if it refused it for good. */
  add(message: OutgoingMessage): Promise<SendAck> {
    return new Promise<SendAck>((resolve, reject) => {
      let queue = this.queues.get(message.group);
      if (!queue) {
        queue = [];
        this.queues.set(message.group, queue);
      }
      queue.push({ ...message, status: 'queued', inFlight: false, retries: 0, resolve, reject });
      this.emit(message.group);
      this.pump(message.group);
    });
  }

  /** The sends of a group not yet acknowledged (and those refused), oldest first. */
  pending(group: string): PendingMessage[] {
    return (this.queues.get(group) ?? []).map(publicPending);
  }

  /** Gives up a pending send; its promise fails with `conflict`. A send already on the wire may still land. */
  cancel(group: string, clientMsgId: string): void {
    const queue = this.queues.get(group) ?? [];
    const i = queue.findIndex((m) => m.clientMsgId === clientMsgId);
    if (i < 0) return;
    const [m] = queue.splice(i, 1);
    clearTimeout(m!.retryTimer);
    m!.reject(new BanyanError('conflict', 'send cancelled'));
    this.emit(group);
    this.pump(group);
  }

  /** Connected again: every group's next send goes out. */
  resume(): void {
    for (const group of this.queues.keys()) this.pump(group);
  }

  /** The connection went: sends on the wire go back to waiting (the reconnect resends them). */
  requeue(): void {
    for (const [group, queue] of this.queues) {
      for (const m of queue) m.inFlight = false;
      if (queue.some((m) => m.status === 'sending')) {
        for (const m of queue) if (m.status === 'sending') m.status = 'queued';
        this.emit(group);
      }
    }
  }

  /** Fails every send of a group (or of every group) for good. */
  fail(error: BanyanError, group?: string): void {
    for (const g of group === undefined ? [...this.queues.keys()] : [group]) {
      const queue = this.queues.get(g);
      if (!queue) continue;
      this.queues.delete(g);
      for (const m of queue) {
        clearTimeout(m.retryTimer);
        m.reject(error);
      }
      this.emit(g);
    }
  }

  private pump(group: string): void {
    const head = this.queues.get(group)?.find((m) => m.status !== 'failed');
    if (!head || head.inFlight || head.retryTimer || !this.hooks.live()) return;
    head.inFlight = true;
    head.status = 'sending';
    this.emit(group);
    const connection = this.hooks.connection();
    const { group: g, clientMsgId, text, replyTo, mentions, attachments, poll, event } = head;
    const extras = { ...(attachments ? { attachments } : {}), ...(poll ? { poll } : {}), ...(event ? { event } : {}) };
    this.hooks.send({ group: g, clientMsgId, text, replyTo, mentions, ...extras }).then(
      (ack) => {
        this.finish(group, head);
        head.resolve({ group, seq: ack.seq ?? 0, ts: ack.ts ?? '', clientMsgId: head.clientMsgId });
      },
      (err: BanyanError) => {
        head.inFlight = false;
        if (this.hooks.connection() !== connection && err.code === 'unavailable') return; // the reconnect resends it
        if (err.retryable) {
          head.status = 'queued';
          head.retries++;
          const after = Number(err.details?.retryAfterMs) || Math.min(30_000, 250 * 2 ** Math.min(head.retries, 7));
          head.retryTimer = setTimeout(() => {
            head.retryTimer = undefined;
            this.pump(group);
          }, after);
          this.emit(group);
          return;
        }
        head.status = 'failed';
        head.error = err;
        this.emit(group);
        head.reject(err);
        this.pump(group);
      },
    );
  }

  private finish(group: string, message: Outgoing): void {
    const queue = this.queues.get(group) ?? [];
    const i = queue.indexOf(message);
    if (i >= 0) queue.splice(i, 1);
    if (queue.length === 0) this.queues.delete(group);
    this.emit(group);
    this.pump(group);
  }

  private emit(group: string): void {
    this.hooks.pending({ group, messages: this.pending(group) });
  }
}

const publicPending = (m: Outgoing): PendingMessage => ({
  group: m.group,
  clientMsgId: m.clientMsgId,
  text: m.text,
  replyTo: m.replyTo,
  mentions: m.mentions,
  status: m.status,
  ...(m.error ? { error: m.error } : {}),
});
