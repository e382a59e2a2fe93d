import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/client/backoff.js';
import { GroupCursor } from '../../src/client/group-cursor.js';
import type { GroupEvent } from '../../src/protocol/server-frames.js';

const event = (seq: number): GroupEvent => ({
  type: 'event',
  group: 'g1',
  seq,
  ts: '2026-01-01T00:00:00.000Z',
  sender: 'u1',
  kind: 'message',
  clientMsgId: `m${seq}`,
  text: `text ${seq}`,
  replyTo: null,
  mentions: [],
});
const seqs = (events: GroupEvent[]) => events.map((e) => e.seq);

describe('GroupCursor', () => {
  it('delivers in order and drops duplicates, at or below the cursor', () => {
    const cursor = new GroupCursor(2);
    expect(seqs(cursor.accept(event(2)))).toEqual([]);
    expect(seqs(cursor.accept(event(3)))).toEqual([3]);
    expect(seqs(cursor.accept(event(3)))).toEqual([]);
    expect(seqs(cursor.accept(event(1)))).toEqual([]);
    expect(cursor.seq).toBe(3);
  });

  it('holds events past a gap and releases them, in order, once it is filled', () => {
    const cursor = new GroupCursor(0);
    expect(seqs(cursor.accept(event(3)))).toEqual([]);
    expect(seqs(cursor.accept(event(5)))).toEqual([]);
    expect(seqs(cursor.accept(event(3)))).toEqual([]);
    expect(cursor.hasGap).toBe(true);
    expect(cursor.heldCount).toBe(2);
    expect(seqs(cursor.accept(event(1)))).toEqual([1]);
    expect(seqs(cursor.accept(event(2)))).toEqual([2, 3]);
    expect(cursor.hasGap).toBe(true);
    expect(seqs(cursor.accept(event(4)))).toEqual([4, 5]);
    expect(cursor.hasGap).toBe(false);
    expect(cursor.seq).toBe(5);
  });

  it('delivers every event once in order whatever order overlapping sources give them', () => {
    // A live stream and a sync page overlapping, shuffled with a fixed seed.
    const all = [...Array.from({ length: 200 }, (_, i) => i + 1), ...Array.from({ length: 120 }, (_, i) => i + 50)];
    let seed = 7;
    const rand = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    const cursor = new GroupCursor(0);
    const out = all.flatMap((s) => seqs(cursor.accept(event(s))));
    expect(out).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });
});

describe('Backoff', () => {
  it('grows exponentially to the cap, with each delay between half and all of its ceiling', () => {
    const low = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0 });
    const high = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0.999999 });
    expect(Array.from({ length: 6 }, () => low.next())).toEqual([50, 100, 200, 400, 500, 500]);
    expect(Array.from({ length: 6 }, () => high.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('spreads clients that fail together, and starts over after reset', () => {
    let r = 0;
    const values = [0.1, 0.9];
    const a = new Backoff({ baseMs: 1000, maxMs: 60_000, random: () => values[r++ % 2]! });
    expect([a.next(), a.next()]).toEqual([550, 1900]);
    expect(a.attempts).toBe(2);
    a.reset();
    expect(a.attempts).toBe(0);
    expect(a.next()).toBe(550);
  });
});
