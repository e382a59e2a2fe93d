import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BanyanError } from '../../src/client/errors.js';
import { OutgoingQueue, type PendingMessage } from '../../src/client/outgoing.js';
import type { OutgoingMessage } from '../../src/protocol/commands.js';
import type { FrameOf } from '../../src/protocol/server-frames.js';

// The outgoing queue with a hand-answered wire: order per group, retries, failures, cancels.

interface Wire {
  message: OutgoingMessage;
  ack(seq: number): void;
  fail(error: BanyanError): void;
}

function setup() {
  const wire: Wire[] = [];
  const pending: { group: string; messages: PendingMessage[] }[] = [];
  let live = false;
  let connection = {};
  const queue = new OutgoingQueue({
    live: () => live,
    connection: () => connection,
    send: (message) =>
      new Promise<FrameOf<'ack'>>((resolve, reject) =>
        wire.push({ message, ack: (seq) => resolve({ type: 'ack', re: 'x', group: message.group, seq, ts: 't' }), fail: reject }),
      ),
    pending: (p) => pending.push(p),
  });
  const msg = (group: string, clientMsgId: string): OutgoingMessage => ({
    group,
    clientMsgId,
    text: clientMsgId,
    replyTo: null,
    mentions: [],
  });
  return {
    queue,
    wire,
    pending,
    msg,
    connect: () => {
      live = true;
      queue.resume();
    },
    disconnect: () => {
      live = false;
      connection = {};
      queue.requeue();
    },
  };
}

const statuses = (q: OutgoingQueue, group: string) => q.pending(group).map((p) => `${p.clientMsgId}:${p.status}`);

describe('OutgoingQueue', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('waits while offline, then sends one message per group at a time, in order', async () => {
    const t = setup();
    const acks = [t.queue.add(t.msg('g1', 'a')), t.queue.add(t.msg('g1', 'b')), t.queue.add(t.msg('g2', 'c'))];
    expect(t.wire).toHaveLength(0);
    expect(statuses(t.queue, 'g1')).toEqual(['a:queued', 'b:queued']);
    t.connect();
    expect(t.wire.map((w) => w.message.clientMsgId)).toEqual(['a', 'c']);
    expect(statuses(t.queue, 'g1')).toEqual(['a:sending', 'b:queued']);
    t.wire[0]!.ack(3);
    await expect(acks[0]).resolves.toEqual({ group: 'g1', seq: 3, ts: 't', clientMsgId: 'a' });
    expect(t.wire.map((w) => w.message.clientMsgId)).toEqual(['a', 'c', 'b']);
    t.wire[2]!.ack(4);
    t.wire[1]!.ack(1);
    await Promise.all(acks);
    expect(t.queue.pending('g1')).toEqual([]);
    expect(t.pending.filter((p) => p.group === 'g1').at(-1)).toEqual({ group: 'g1', messages: [] });
  });

  it('retries a retryable failure with the same clientMsgId after the delay the server asks for', async () => {
    const t = setup();
    t.connect();
    const ack = t.queue.add(t.msg('g1', 'a'));
    t.wire[0]!.fail(new BanyanError('rate_limited', 'slow down', { retryAfterMs: 700 }));
    await vi.advanceTimersByTimeAsync(699);
    expect(t.wire).toHaveLength(1);
    expect(statuses(t.queue, 'g1')).toEqual(['a:queued']);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.wire.map((w) => w.message.clientMsgId)).toEqual(['a', 'a']);
    t.wire[1]!.ack(5);
    await expect(ack).resolves.toMatchObject({ seq: 5 });
  });

  it('keeps a refused send visible as failed, goes on with the next, and drops it on cancel', async () => {
    const t = setup();
    t.connect();
    const refused = t.queue.add(t.msg('g1', 'a'));
    const next = t.queue.add(t.msg('g1', 'b'));
    t.wire[0]!.fail(new BanyanError('forbidden', 'no'));
    await expect(refused).rejects.toMatchObject({ code: 'forbidden' });
    expect(statuses(t.queue, 'g1')).toEqual(['a:failed', 'b:sending']);
    expect(t.queue.pending('g1')[0]!.error?.code).toBe('forbidden');
    t.queue.cancel('g1', 'a');
    expect(statuses(t.queue, 'g1')).toEqual(['b:sending']);
    t.queue.cancel('g1', 'b');
    await expect(next).rejects.toMatchObject({ code: 'conflict' });
  });

  it('puts a send cut off with its connection back in the queue, for the next connection to resend', async () => {
    const t = setup();
    t.connect();
    const ack = t.queue.add(t.msg('g1', 'a'));
    t.disconnect();
    expect(statuses(t.queue, 'g1')).toEqual(['a:queued']);
    t.wire[0]!.fail(new BanyanError('unavailable', 'connection lost'));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.wire).toHaveLength(1); // no retry timer: the reconnect resends it
    t.connect();
    expect(t.wire.map((w) => w.message.clientMsgId)).toEqual(['a', 'a']);
    t.wire[1]!.ack(2);
    await expect(ack).resolves.toMatchObject({ seq: 2 });
  });

  it('fails the sends of one group, or of all, for good', async () => {
    const t = setup();
    const [a, b] = [t.queue.add(t.msg('g1', 'a')), t.queue.add(t.msg('g2', 'b'))];
    t.queue.fail(new BanyanError('not_found', 'group not found'), 'g1');
    await expect(a).rejects.toMatchObject({ code: 'not_found' });
    expect(t.queue.pending('g2')).toHaveLength(1);
    t.queue.fail(new BanyanError('unavailable', 'client closed'));
    await expect(b).rejects.toMatchObject({ code: 'unavailable' });
    expect(t.queue.pending('g2')).toEqual([]);
  });
});
