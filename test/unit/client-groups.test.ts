import { afterEach, describe, expect, it, vi } from 'vitest';
import { GroupTracker, type GroupState } from '../../src/client/group-tracker.js';
import type { GroupEvent, GroupSummary } from '../../src/protocol/server-frames.js';

// Which groups a client follows, where each stands, and what is unread: no socket involved.

const summary = (over: Partial<GroupSummary> = {}): GroupSummary => ({
  id: 'g1',
  kind: 'group',
  name: 'Volunteers',
  communityId: null,
  role: 'member',
  lastSeq: 10,
  readSeq: 4,
  ...over,
});
const head = (seq: number, sender = 'u2') => ({ type: 'event' as const, group: 'g1', seq, ts: '2026-01-01T00:00:00.000Z', sender });
const message = (seq: number, sender?: string): GroupEvent => ({
  ...head(seq, sender),
  kind: 'message',
  clientMsgId: `m${seq}`,
  text: `t${seq}`,
  replyTo: null,
  mentions: [],
});
const removal = (seq: number, target: number): GroupEvent => ({ ...head(seq), kind: 'delete', target });
const rename = (seq: number, name: string): GroupEvent => ({ ...head(seq), kind: 'group', changes: { name } });

function setup(options: { initialBacklog?: number; cursors?: Record<string, number> } = {}) {
  const seen = {
    events: [] as number[],
    groups: [] as GroupState[],
    unread: [] as number[],
    gaps: [] as string[],
    expired: [] as number[],
  };
  const tracker = new GroupTracker(
    { initialBacklog: options.initialBacklog ?? 500, cursors: options.cursors, self: () => 'u1', gapWaitMs: 300 },
    {
      event: (e) => seen.events.push(e.seq),
      group: (g) => seen.groups.push(g),
      unread: (u) => seen.unread.push(u.unread),
      gap: (g) => seen.gaps.push(g),
      expired: (e) => seen.expired.push(...e.seqs),
    },
  );
  return { tracker, seen };
}

describe('GroupTracker', () => {
  afterEach(() => vi.useRealTimers());

  it('starts a new group at its read marker, or the backlog, or a given cursor; unfetched events after the marker count as unread', () => {
    const fromRead = setup();
    fromRead.tracker.track(summary());
    expect(fromRead.tracker.state('g1')).toEqual({
      id: 'g1',
      kind: 'group',
      name: 'Volunteers',
      communityId: null,
      role: 'member',
      lastSeq: 4,
      readSeq: 4,
      unread: 0,
      pins: [],
    });

    const backlog = setup({ initialBacklog: 3 });
    backlog.tracker.track(summary());
    expect(backlog.tracker.state('g1')).toMatchObject({ lastSeq: 7, unread: 3 }); // 5–7 never fetched

    const resumed = setup({ cursors: { g1: 9 } });
    resumed.tracker.track(summary());
    expect(resumed.tracker.state('g1')).toMatchObject({ lastSeq: 9, unread: 0 });
  });

  it('syncs what is behind, once at a time, and again while the server has more', () => {
    const { tracker } = setup();
    tracker.track(summary());
    tracker.track(summary({ id: 'g2', lastSeq: 4 }));
    expect(tracker.startSync(['g1', 'g2', 'nope'])).toEqual({ g1: 4 });
    expect(tracker.startSync(['g1'])).toEqual({});
    expect(tracker.synced).toBe(false);
    tracker.endSync('g1');
    expect(tracker.synced).toBe(true);
    expect(tracker.behind('g1', true)).toBe(true);
    expect(tracker.behind('g1', false)).toBe(false);
    tracker.startSync(['g1']);
    tracker.abandonSyncs();
    expect(tracker.synced).toBe(true);
  });

  it('hands events on once, in order, and counts messages of others after the read marker as unread', () => {
    const { tracker, seen } = setup();
    tracker.track(summary({ lastSeq: 4 }));
    for (const e of [message(6), message(5, 'u1'), message(5, 'u1'), message(7), removal(8, 6)]) tracker.accept(e);
    expect(seen.events).toEqual([5, 6, 7, 8]);
    expect(tracker.state('g1')).toMatchObject({ lastSeq: 8, unread: 1 }); // 6 deleted, 5 is one's own
    expect(seen.unread).toEqual([1, 2, 1]);
  });

  it('moves the read marker forward only, keeping what is still to send', () => {
    const { tracker } = setup();
    tracker.track(summary({ lastSeq: 4 }));
    for (let s = 5; s <= 8; s++) tracker.accept(message(s));
    expect(tracker.markRead('g1', 6)).toBe(true);
    expect(tracker.state('g1')).toMatchObject({ readSeq: 6, unread: 2 });
    expect(tracker.markRead('g1', 5)).toBe(false);
    expect(tracker.markRead('g1', 99)).toBe(true); // up to the last delivered
    expect(tracker.readToSend('g1')).toBe(8);
    tracker.readSent('g1', 6); // an older marker landed: 8 is still to send
    expect(tracker.readToSend('g1')).toBe(8);
    tracker.readSent('g1', 8);
    expect(tracker.readToSend('g1')).toBe(0);
    tracker.readElsewhere('g1', 7);
    expect(tracker.state('g1')!.readSeq).toBe(8);
    expect(tracker.markRead('unknown')).toBe(false);
  });

  it('takes a rename into the group state, and asks for a gap that stays open outside a sync', () => {
    vi.useFakeTimers();
    const { tracker, seen } = setup();
    tracker.track(summary({ lastSeq: 4 }));
    tracker.accept(rename(5, 'Crew'));
    expect(seen.groups.map((g) => g.name)).toEqual(['Crew']);
    tracker.accept(message(7));
    vi.advanceTimersByTime(299);
    expect(seen.gaps).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(seen.gaps).toEqual(['g1']);
    tracker.accept(message(6));
    expect(seen.events).toEqual([5, 6, 7]);
  });

  it('follows the pins, and drops expired messages from the unread count (never counting an expired one)', () => {
    const { tracker, seen } = setup();
    tracker.track(summary({ lastSeq: 4, pins: [2] }));
    expect(tracker.state('g1')!.pins).toEqual([2]);
    tracker.accept({ ...head(5), kind: 'group', changes: { pins: [3, 2] } });
    expect(seen.groups.map((g) => g.pins)).toEqual([[3, 2]]);
    tracker.accept(message(6));
    tracker.accept(message(7));
    tracker.accept({ ...message(8), text: null, expired: true });
    expect(tracker.state('g1')!.unread).toBe(2);
    tracker.expired('g1', [6]);
    expect(seen.expired).toEqual([6]);
    expect(tracker.state('g1')!.unread).toBe(1);
    expect(seen.unread.at(-1)).toBe(1);
  });

  it('forgets an untracked group, and takes fresher summaries of a followed one', () => {
    const { tracker } = setup();
    tracker.track(summary({ lastSeq: 4 }));
    tracker.track(summary({ lastSeq: 12, readSeq: 6, name: 'Renamed' }));
    expect(tracker.state('g1')).toMatchObject({ name: 'Renamed', readSeq: 6, lastSeq: 4 });
    expect(tracker.startSync(['g1'])).toEqual({ g1: 4 });
    expect(tracker.untrack('g1')).toBe(true);
    expect(tracker.untrack('g1')).toBe(false);
    expect(tracker.synced).toBe(true);
    expect(tracker.states()).toEqual([]);
  });
});
