import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { eventBusMessage } from '../../src/delivery/event-message.js';
import { GroupFeeds, type FeedOptions } from '../../src/delivery/group-feeds.js';
import { Publisher } from '../../src/delivery/publisher.js';
import { topicGroupId } from '../../src/delivery/topics.js';
import { FakeBus, MemoryFeedStorage, RecordingFanout, deferred, memberLeftEvent, silentLogger, type Chaos } from '../helpers/fakes.js';
import { seededRandom } from '../helpers/random.js';
import { range } from '../helpers/users.js';

const GAP_WAIT_MS = 5;
/** GroupFeeds' LISTED_CHECK_MS. */
const LISTED_CHECK_MS = 250;

/** One replica's receiving side over a fake bus and in-memory storage; the check runs only when a test calls it. */
function setup(chaos: Chaos = {}, options: Partial<FeedOptions> = {}, readDelayMs = 0) {
  const bus = new FakeBus(chaos);
  const storage = new MemoryFeedStorage(readDelayMs);
  const fanout = new RecordingFanout();
  const feeds = new GroupFeeds(
    bus,
    storage,
    fanout,
    { gapWaitMs: GAP_WAIT_MS, fillPageSize: 4, checkIntervalMs: 3_600_000, ...options },
    silentLogger,
  );
  bus.onMessage((m) => feeds.receive(topicGroupId(m.topic)!, m));
  const publisher = new Publisher(bus);
  /** Commits events to a group's log and publishes them, as the sending side does. */
  const commit = (groupId: string, count = 1) => {
    const rows = storage.append(groupId, count);
    void publisher.events(rows);
    return rows;
  };
  return { bus, storage, fanout, feeds, publisher, commit };
}

describe('GroupFeeds', () => {
  let close: (() => void) | undefined;
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    close?.();
    close = undefined;
    vi.useRealTimers();
  });
  const start = (...args: Parameters<typeof setup>) => {
    const s = setup(...args);
    close = () => s.feeds.close();
    return s;
  };

  it.each(range(1, 12))(
    'hands each group to its sockets in seq order, gapless and once, however the bus reorders, doubles and drops (seed %i)',
    async (seed) => {
      // Storage answers take 2 ms, so the bus overtakes baselines and fills.
      const { bus, storage, fanout, feeds, commit } = start({ seed, drop: 0.15, duplicate: 0.25, delay: 0.4 }, {}, 2);
      const random = seededRandom(seed * 7919);
      const groups = ['a', 'b', 'c'];
      // A socket starts following a group where the feed stands, and has the log up to there already.
      const sockets: { groupId: string; after: number; from: number }[] = [];
      // Half the follows start from a listing: where the log ended before the subscription.
      const follow = (groupId: string) => {
        const listed = random() < 0.5 ? (storage.logs.get(groupId)?.length ?? 0) : undefined;
        void feeds
          .acquire(groupId, listed)
          .then(() => sockets.push({ groupId, after: feeds.deliveredSeq(groupId), from: fanout.calls.length }));
      };
      for (const g of groups) storage.append(g, Math.floor(random() * 4));
      for (const g of groups) follow(g);

      for (let step = 0; step < 80; step++) {
        const r = random();
        const g = groups[Math.floor(random() * groups.length)]!;
        if (r < 0.45) commit(g, 1 + Math.floor(random() * 3));
        else if (r < 0.75) bus.flush();
        else if (r < 0.95) await vi.advanceTimersByTimeAsync(Math.floor(random() * 2 * GAP_WAIT_MS));
        else follow(g);
      }
      bus.drain();
      await vi.advanceTimersByTimeAsync(LISTED_CHECK_MS + 10 * GAP_WAIT_MS);
      // The last events of a group may be lost with nothing after them: the periodic check finds them.
      for (let check = 0; check < 2; check++) {
        const checked = feeds.checkAgainstStorage();
        await vi.advanceTimersByTimeAsync(10 * GAP_WAIT_MS);
        await checked;
      }

      expect(bus.dropped.length).toBeGreaterThan(0);
      expect(sockets.length).toBeGreaterThan(groups.length);
      for (const s of sockets) {
        const end = storage.logs.get(s.groupId)?.length ?? 0;
        expect(fanout.seqs(s.groupId, s.from), `group ${s.groupId} after ${s.after}`).toEqual(range(s.after + 1, end));
      }
    },
  );

  it('holds events that arrive before the baseline and delivers them after it, filling what is missing', async () => {
    const { bus, storage, fanout, feeds, commit } = start();
    storage.append('g', 5);
    const baseline = deferred();
    storage.lastSeqGate = baseline.promise;
    const ready = feeds.acquire('g'); // subscribes, then reads the baseline (5), whose answer is held back
    await vi.advanceTimersByTimeAsync(0);
    expect(bus.subscribed.has('g:g')).toBe(true);
    commit('g', 4); // 6..9, queued on the bus
    // Before the baseline: 8, 6, an old 5 and 6 again arrive; 7 and 9 are still on their way.
    const log = storage.logs.get('g')!;
    for (const seq of [8, 6, 5, 6]) feeds.receive('g', eventBusMessage(log[seq - 1]!));
    expect(fanout.calls).toEqual([]);
    baseline.resolve();
    await ready;
    expect(feeds.deliveredSeq('g')).toBe(6);
    // 7 waits gapWaitMs for the bus, then is read from storage (with what follows it there).
    await vi.advanceTimersByTimeAsync(GAP_WAIT_MS - 1);
    expect(fanout.seqs('g')).toEqual([6]);
    await vi.advanceTimersByTimeAsync(1);
    expect(fanout.seqs('g')).toEqual([6, 7, 8, 9]);
    bus.drain();
    expect(fanout.seqs('g')).toEqual([6, 7, 8, 9]);
  });

  it('starts feeds from a listing with no read each, and fills what was committed before the subscription from one check of them all', async () => {
    const { bus, storage, fanout, feeds, commit } = start();
    storage.append('a', 3);
    storage.append('b', 2);
    // Listed: a ends at 3, b at 2. Then a's 4 and 5 are committed and published before the feed subscribes: lost.
    commit('a', 2);
    bus.drain();
    await Promise.all([feeds.acquire('a', 3), feeds.acquire('b', 2)]);
    expect(storage.baselines).toBe(0);
    expect([feeds.deliveredSeq('a'), feeds.deliveredSeq('b')]).toEqual([3, 2]);
    // b's 3 comes by the bus as usual.
    commit('b');
    bus.drain();
    expect(fanout.seqs('b')).toEqual([3]);
    await vi.advanceTimersByTimeAsync(LISTED_CHECK_MS - 1);
    expect(storage.endReads).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(storage.endReads).toBe(1);
    // What is behind gets the gap wait to come by the bus, then is read; the periodic check never ran.
    expect(fanout.seqs('a')).toEqual([]);
    await vi.advanceTimersByTimeAsync(GAP_WAIT_MS);
    expect(fanout.seqs('a')).toEqual([4, 5]);
    expect(fanout.seqs('b')).toEqual([3]);
    expect(storage.fills).toBe(1);
    // A listing that was current costs no fill, and a later start has a check of its own.
    await feeds.acquire('c', 0);
    await vi.advanceTimersByTimeAsync(LISTED_CHECK_MS + GAP_WAIT_MS);
    expect(storage.endReads).toBe(2);
    expect(storage.fills).toBe(1);
  });

  it('takes one bus subscription per group and drops it with the last reference', async () => {
    const { bus, fanout, feeds, commit } = start();
    await feeds.acquire('g');
    await feeds.acquire('g');
    expect(bus.calls).toEqual(['subscribe g:g']);
    feeds.release('g');
    expect(bus.calls).toEqual(['subscribe g:g']);
    commit('g');
    bus.drain();
    expect(fanout.seqs('g')).toEqual([1]);
    feeds.release('g');
    expect(bus.calls).toEqual(['subscribe g:g', 'unsubscribe g:g']);
    expect(feeds.deliveredSeq('g')).toBe(-1);
    feeds.receive('g', { topic: 'g:g', seq: 2, data: '{"seq":2}' });
    expect(fanout.seqs('g')).toEqual([1]);
  });

  it('keeps a released feed running for lingerMs: a reference taken meanwhile finds it current, with no new subscription', async () => {
    const { bus, storage, fanout, feeds, commit } = start({}, { lingerMs: 1000 });
    commit('g', 2);
    await feeds.acquire('g');
    expect(feeds.deliveredSeq('g')).toBe(2);
    feeds.release('g');
    // Events keep coming while no one references it: it stays where the log is.
    commit('g');
    bus.drain();
    await vi.advanceTimersByTimeAsync(999);
    const baselines = storage.baselines;
    await feeds.acquire('g');
    expect(feeds.deliveredSeq('g')).toBe(3);
    expect(storage.baselines).toBe(baselines);
    expect(bus.calls).toEqual(['subscribe g:g']);
    // Taken again, the earlier timer no longer stops it.
    await vi.advanceTimersByTimeAsync(5000);
    expect(bus.calls).toEqual(['subscribe g:g']);
    feeds.release('g');
    await vi.advanceTimersByTimeAsync(999);
    expect(bus.calls).toEqual(['subscribe g:g']);
    await vi.advanceTimersByTimeAsync(1);
    expect(bus.calls).toEqual(['subscribe g:g', 'unsubscribe g:g']);
    expect(feeds.deliveredSeq('g')).toBe(-1);
    // An extra release of a stopped or lingering feed takes nothing away from the next one.
    feeds.release('g');
    await feeds.acquire('g');
    feeds.release('g');
    feeds.release('g');
    await feeds.acquire('g');
    await vi.advanceTimersByTimeAsync(5000);
    expect(bus.calls).toEqual(['subscribe g:g', 'unsubscribe g:g', 'subscribe g:g']);
    expect(fanout.seqs('g')).toEqual([3]);
  });

  it('catches every feed up from storage after the bus lost messages (resyncAll)', async () => {
    const { bus, storage, fanout, feeds } = start({ drop: 1 });
    await feeds.acquire('a');
    await feeds.acquire('b');
    storage.append('a', 3);
    storage.append('b', 9); // more than a fill page
    bus.onResync(() => feeds.resyncAll());
    bus.lose();
    await vi.advanceTimersByTimeAsync(0);
    expect(fanout.seqs('a')).toEqual([1, 2, 3]);
    expect(fanout.seqs('b')).toEqual(range(1, 9));
  });

  it('finds a lost last event by checking against storage, with no later event to reveal the gap', async () => {
    const { storage, fanout, feeds, commit } = start({ drop: 1 });
    storage.append('g', 2);
    await feeds.acquire('g');
    commit('g'); // 3, lost on the bus
    await feeds.checkAgainstStorage();
    await feeds.checkAgainstStorage();
    await vi.advanceTimersByTimeAsync(0);
    expect(fanout.seqs('g')).toEqual([3]);
  });

  it('takes a leaving member off the group right after the event that says so, from the bus or from storage', async () => {
    const { bus, storage, fanout, feeds, publisher } = start();
    await feeds.acquire('g');
    const events = [
      storage.append('g')[0]!,
      storage.append('g', 1, (g, seq) => memberLeftEvent(g, seq, 'u2'))[0]!,
      storage.append('g')[0]!,
    ];
    void publisher.events(events);
    bus.drain();
    const left = storage.append('g', 1, (g, seq) => memberLeftEvent(g, seq, 'u3'))[0]!; // 4, lost: filled from storage
    void publisher.events(storage.append('g')); // 5
    bus.drain();
    await vi.advanceTimersByTimeAsync(GAP_WAIT_MS);
    expect(left.seq).toBe(4);
    expect(fanout.calls.map((c) => (c.type === 'publish' ? (JSON.parse(c.data) as { seq: number }).seq : `left ${c.userId}`))).toEqual([
      1,
      2,
      'left u2',
      3,
      4,
      'left u3',
      5,
    ]);
  });

  it('passes ephemeral frames (no seq) straight through, with their origin', async () => {
    const { fanout, feeds } = start();
    await feeds.acquire('g');
    feeds.receive('g', { topic: 'g:g', origin: 'conn-1', data: '{"type":"typing","group":"g","user":"u1"}' });
    expect(fanout.calls).toEqual([{ type: 'publish', groupId: 'g', data: '{"type":"typing","group":"g","user":"u1"}', origin: 'conn-1' }]);
    expect(feeds.deliveredSeq('g')).toBe(0);
  });
});
