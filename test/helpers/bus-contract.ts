import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bus, BusMessage } from '../../src/bus/bus.js';

export interface BusContractOptions {
  /**
   * Instances from the factory share one transport, like replicas on one Redis: each sees the
   * others' publications. False for the in-process bus, where every instance is its own world.
   */
  shared: boolean;
  /** Extra wait before asserting that something did NOT arrive (transports without global order). */
  settleMs?: number;
}

/** Polls until check() is true; fails with what it was waiting for. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A topic name no other test (or test run on a shared Redis) uses. */
export const uniqueTopic = (label = 't') => `g:test-${label}-${randomUUID()}`;

/** Records every message the bus hands to its handler. */
export function collect(bus: Bus): BusMessage[] {
  const received: BusMessage[] = [];
  bus.onMessage((m) => received.push(m));
  return received;
}

const ofTopic = (received: BusMessage[], topic: string) => received.filter((m) => m.topic === topic);

/** The contract every Bus implementation passes. Run it inside the implementation's test file. */
export function runBusContract(name: string, factory: () => Promise<Bus>, options: BusContractOptions = { shared: false }): void {
  const settleMs = options.settleMs ?? 50;

  describe(`Bus contract: ${name}`, { timeout: 20_000 }, () => {
    const opened: Bus[] = [];
    const open = async () => {
      const bus = await factory();
      opened.push(bus);
      return bus;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((b) => b.close()));
    });

    /** Publishes a sentinel on a subscribed topic and waits for it, then a little more. */
    const drain = async (bus: Bus, received: BusMessage[]) => {
      const topic = uniqueTopic('sentinel');
      await bus.subscribe(topic);
      await bus.publish({ topic, data: 'sentinel' });
      await waitFor(() => ofTopic(received, topic).length === 1, 'the sentinel');
      await sleep(settleMs);
      return topic;
    };

    it('is healthy once created', async () => {
      const bus = await open();
      expect(bus.healthy()).toBe(true);
    });

    it('hands a publication to the subscriber of its topic with seq, leaves and data intact', async () => {
      const bus = await open();
      const received = collect(bus);
      const topic = uniqueTopic();
      await bus.subscribe(topic);
      const sent: BusMessage[] = [
        { topic, seq: 1, data: '{"type":"event","group":"g1","seq":1}' },
        { topic, seq: 2, leaves: 'user-7', data: 'line one\nline two\n\n' },
        { topic, data: 'héllo 🌳 世界 \u2028 \u0000 "quoted" \\ back' },
        { topic, seq: 0, data: '' },
        { topic, seq: Number.MAX_SAFE_INTEGER, leaves: 'ünï-çødé', data: '\n' },
        { topic, leaves: 'u', data: '\n\n3\nx\n' },
        { topic, origin: 'conn-1', data: 'typing' },
      ];
      for (const m of sent) await bus.publish(m);
      await waitFor(() => received.length >= sent.length, `${sent.length} messages`);
      expect(received).toStrictEqual(sent);
    });

    it('does not deliver topics that are not subscribed', async () => {
      const bus = await open();
      const received = collect(bus);
      const subscribed = uniqueTopic('sub');
      const other = uniqueTopic('other');
      await bus.subscribe(subscribed);
      await bus.publish({ topic: other, seq: 1, data: 'not for you' });
      await bus.publish({ topic: subscribed, seq: 1, data: 'for you' });
      await waitFor(() => received.length >= 1, 'the subscribed message');
      const sentinel = await drain(bus, received);
      expect(received.map((m) => [m.topic, m.data])).toEqual([
        [subscribed, 'for you'],
        [sentinel, 'sentinel'],
      ]);
    });

    it('stops delivering after unsubscribe', async () => {
      const bus = await open();
      const received = collect(bus);
      const topic = uniqueTopic();
      await bus.subscribe(topic);
      await bus.publish({ topic, seq: 1, data: 'before' });
      await waitFor(() => received.length === 1, 'the first message');
      await bus.unsubscribe(topic);
      await bus.publish({ topic, seq: 2, data: 'after' });
      await drain(bus, received);
      expect(ofTopic(received, topic).map((m) => m.data)).toEqual(['before']);
    });

    it('treats a repeated subscribe or unsubscribe as one', async () => {
      const bus = await open();
      const received = collect(bus);
      const topic = uniqueTopic();
      await bus.subscribe(topic);
      await bus.subscribe(topic);
      await bus.publish({ topic, seq: 1, data: 'once' });
      await drain(bus, received);
      expect(ofTopic(received, topic).map((m) => m.data)).toEqual(['once']);
      await bus.unsubscribe(topic);
      await bus.unsubscribe(topic);
      await bus.publish({ topic, seq: 2, data: 'never' });
      await drain(bus, received);
      expect(ofTopic(received, topic).map((m) => m.data)).toEqual(['once']);
    });

    it('ends in the state of the last call when subscribe and unsubscribe interleave', async () => {
      const bus = await open();
      const received = collect(bus);
      const on = uniqueTopic('on');
      const off = uniqueTopic('off');
      // Not awaited one by one: the calls overlap as they would under load.
      await Promise.all([bus.subscribe(on), bus.unsubscribe(on), bus.subscribe(on)]);
      await Promise.all([bus.subscribe(off), bus.unsubscribe(off), bus.subscribe(off), bus.unsubscribe(off)]);
      await bus.publish({ topic: on, seq: 1, data: 'on' });
      await bus.publish({ topic: off, seq: 1, data: 'off' });
      await waitFor(() => ofTopic(received, on).length === 1, 'the message of the subscribed topic');
      await drain(bus, received);
      expect(ofTopic(received, on).map((m) => m.data)).toEqual(['on']);
      expect(ofTopic(received, off)).toEqual([]);
    });

    it('keeps the order of 1,000 quick publications on one topic', async () => {
      const bus = await open();
      const received = collect(bus);
      const topic = uniqueTopic('order');
      await bus.subscribe(topic);
      const publications: Promise<void>[] = [];
      for (let seq = 1; seq <= 1000; seq++) publications.push(bus.publish({ topic, seq, data: `m${seq}` }));
      await Promise.all(publications);
      await waitFor(() => received.length >= 1000, '1,000 messages', 10_000);
      expect(received.map((m) => m.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
      expect(received.every((m) => m.data === `m${m.seq}`)).toBe(true);
    });

    it('closes idempotently and without hanging', async () => {
      const bus = await open();
      await bus.subscribe(uniqueTopic());
      const started = Date.now();
      await Promise.all([bus.close(), bus.close()]);
      await bus.close();
      expect(Date.now() - started).toBeLessThan(3000);
    });

    describe.skipIf(!options.shared)('between replicas', () => {
      it('each replica receives the publications of the other', async () => {
        const a = await open();
        const b = await open();
        const atA = collect(a);
        const atB = collect(b);
        const topic = uniqueTopic('shared');
        await a.subscribe(topic);
        await b.subscribe(topic);
        await a.publish({ topic, seq: 1, leaves: 'user-1', data: 'from a ✓' });
        await b.publish({ topic, seq: 2, data: 'from b\n✓' });
        await waitFor(() => atA.length === 2 && atB.length === 2, 'both messages at both replicas');
        const expected = [
          { topic, seq: 1, leaves: 'user-1', data: 'from a ✓' },
          { topic, seq: 2, data: 'from b\n✓' },
        ];
        // Two publishers: each one's order holds, not their interleaving.
        const bySeq = (ms: BusMessage[]) => [...ms].sort((x, y) => (x.seq ?? 0) - (y.seq ?? 0));
        expect(bySeq(atA)).toStrictEqual(expected);
        expect(bySeq(atB)).toStrictEqual(expected);
      });

      it('a replica that did not subscribe receives nothing', async () => {
        const a = await open();
        const b = await open();
        const atB = collect(b);
        const topic = uniqueTopic('only-a');
        await a.subscribe(topic);
        await a.publish({ topic, seq: 1, data: 'only a listens' });
        await drain(b, atB);
        expect(ofTopic(atB, topic)).toEqual([]);
      });

      it('a replica that unsubscribed stops receiving while the other still receives', async () => {
        const a = await open();
        const b = await open();
        const atA = collect(a);
        const atB = collect(b);
        const topic = uniqueTopic();
        await a.subscribe(topic);
        await b.subscribe(topic);
        await b.unsubscribe(topic);
        await a.publish({ topic, seq: 1, data: 'x' });
        await waitFor(() => atA.length === 1, 'the message at a');
        await drain(b, atB);
        expect(ofTopic(atB, topic)).toEqual([]);
      });

      it('a subscribe that ends an interleaving is in effect on the transport', async () => {
        const a = await open();
        const b = await open();
        const atA = collect(a);
        const topic = uniqueTopic();
        await Promise.all([a.subscribe(topic), a.unsubscribe(topic), a.subscribe(topic)]);
        await b.publish({ topic, seq: 1, data: 'from the other replica' });
        await waitFor(() => atA.length === 1, 'the message from b');
        expect(atA[0]?.data).toBe('from the other replica');
      });

      it('keeps per-topic order of 1,000 quick publications at another replica', async () => {
        const a = await open();
        const b = await open();
        const atB = collect(b);
        const topic = uniqueTopic('order');
        await b.subscribe(topic);
        const publications: Promise<void>[] = [];
        for (let seq = 1; seq <= 1000; seq++) publications.push(a.publish({ topic, seq, data: `m${seq}` }));
        await Promise.all(publications);
        await waitFor(() => atB.length >= 1000, '1,000 messages at b', 10_000);
        expect(atB.map((m) => m.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
      });
    });
  });
}
