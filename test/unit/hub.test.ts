import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Principal } from '../../src/platform/auth/tokens.js';
import { MemoryBus } from '../../src/bus/memory-bus.js';
import type { FeedStorage } from '../../src/delivery/group-feeds.js';
import { type Directory, Hub } from '../../src/delivery/hub.js';
import { Publisher } from '../../src/delivery/publisher.js';
import { PRESENCE_TOPIC } from '../../src/delivery/topics.js';
import type { Session } from '../../src/delivery/session.js';
import type { SocketTransport } from '../../src/delivery/transport.js';
import { createLogger, type Logger } from '../../src/platform/obs/logger.js';
import { createMetrics } from '../../src/platform/obs/metrics.js';
import { ManualClock } from '../../src/platform/clock.js';
import { CloseCode, Disconnect } from '../../src/protocol/errors.js';
import type { GroupSummary, LogEvent } from '../../src/protocol/frames.js';

// The hub over a transport without uWS: sockets are names, topics are sets, frames are kept.

class FakeTransport implements SocketTransport<string> {
  readonly topics = new Map<string, Set<string>>();
  readonly frames = new Map<string, Record<string, unknown>[]>();
  readonly closed = new Map<string, number>();
  readonly buffered = new Map<string, number>();
  private activity = false;
  /** What the gateway's close handler does: the hub hears that the socket ended. */
  onClose: (socket: string) => void = () => {};

  subscribe(socket: string, topic: string) {
    let set = this.topics.get(topic);
    if (!set) {
      set = new Set();
      this.topics.set(topic, set);
    }
    set.add(socket);
  }
  unsubscribe(socket: string, topic: string) {
    this.topics.get(topic)?.delete(socket);
  }
  publish(topic: string, bytes: string, origin?: string) {
    this.activity = true;
    for (const socket of this.topics.get(topic) ?? []) if (socket !== origin) this.push(socket, bytes);
  }
  send(socket: string, bytes: string | readonly string[]) {
    this.activity = true;
    for (const frame of typeof bytes === 'string' ? [bytes] : bytes) this.push(socket, frame);
  }
  close(socket: string, reason: Disconnect) {
    if (this.closed.has(socket)) return;
    this.closed.set(socket, reason.closeCode);
    for (const set of this.topics.values()) set.delete(socket);
    this.onClose(socket);
  }
  bufferedAmount(socket: string) {
    return this.buffered.get(socket) ?? 0;
  }
  takeActivity() {
    const was = this.activity;
    this.activity = false;
    return was;
  }
  framesOf(socket: string) {
    return this.frames.get(socket) ?? [];
  }
  private push(socket: string, bytes: string) {
    const list = this.frames.get(socket) ?? [];
    list.push(JSON.parse(bytes));
    this.frames.set(socket, list);
  }
}

/** Group logs in memory, standing in for storage: the feed's baseline and its gap fills. */
class Logs implements FeedStorage {
  readonly events = new Map<string, LogEvent[]>();
  append(groupId: string, kind: LogEvent['kind'], data: Record<string, unknown> | null = null, text: string | null = null): LogEvent {
    const log = this.events.get(groupId) ?? [];
    const event: LogEvent = {
      groupId,
      seq: log.length + 1,
      ts: new Date(0),
      senderId: 'u-admin',
      kind,
      clientMsgId: null,
      text,
      target: null,
      replyTo: null,
      data,
      editedAt: null,
      deleted: false,
      expiresAt: null,
      expired: false,
    };
    log.push(event);
    this.events.set(groupId, log);
    return event;
  }
  lastSeqNow(groupId: string): number {
    return this.events.get(groupId)?.length ?? 0;
  }
  async lastSeq(groupId: string) {
    return this.lastSeqNow(groupId);
  }
  async lastSeqs(groupIds: string[]) {
    return groupIds.map((id) => ({ id, lastSeq: this.lastSeqNow(id) }));
  }
  async eventsAfter(groupId: string, afterSeq: number, limit: number) {
    return (this.events.get(groupId) ?? []).filter((e) => e.seq > afterSeq).slice(0, limit);
  }
}

const principal = (userId: string, sessionId: string | null = null): Principal => ({
  userId,
  name: userId,
  sessionId,
  scope: 'user',
  expiresAt: new Date(Date.now() + 60_000),
});

function setup(members: Record<string, string[]>, logger: Logger = createLogger('silent')) {
  const bus = new MemoryBus();
  const transport = new FakeTransport();
  const logs = new Logs();
  const summary = (id: string): GroupSummary => ({
    id,
    kind: 'group',
    name: id,
    communityId: null,
    role: 'member',
    // Where the log ends as a listing reads it: a feed a session start begins starts there.
    lastSeq: logs.lastSeqNow(id),
    readSeq: 0,
  });
  /** What storage says beyond `members`, for re-checks: revoked sessions by user, announcement groups. */
  const revokedSessions = new Map<string, Set<string>>();
  const privateRoster = new Set<string>();
  const directory: Directory = {
    listGroups: async (userId) => (members[userId] ?? []).map(summary),
    groupSummary: async (groupId, userId) => ((members[userId] ?? []).includes(groupId) ? summary(groupId) : undefined),
    isRevoked: async (p) => p.sessionId === 'revoked',
    startSession: async (p) => ({ user: { id: p.userId, name: p.name }, groups: (members[p.userId] ?? []).map(summary) }),
    revokedSessionsOf: async (userIds) => new Map(userIds.map((u) => [u, revokedSessions.get(u) ?? new Set<string>()])),
    membershipsOf: async (userIds) => new Map(userIds.map((u) => [u, new Set(members[u] ?? [])])),
    privateRosterOf: async (groupIds) => new Set(groupIds.filter((g) => privateRoster.has(g))),
  };
  const accessChanges: unknown[] = [];
  const clock = new ManualClock();
  const hub = new Hub<string>({
    clock,
    bus,
    transport,
    directory,
    feedStorage: logs,
    onAccessChange: (change) => accessChanges.push(change),
    onRevoked: () => {},
    metrics: createMetrics(),
    logger,
    settings: { feedCheckMs: 60_000, feedLingerMs: 0, slowConsumerBytes: 1000 },
  });
  const sessions = new Map<string, Session<string>>();
  transport.onClose = (socket) => {
    const session = sessions.get(socket);
    if (session) hub.end(session);
  };
  const publisher = new Publisher(bus);
  const connect = async (socket: string, who: Principal) => {
    const session = hub.open(socket, who);
    sessions.set(socket, session);
    await hub.begin(session, '1');
    return session;
  };
  /** Appends to the log, then publishes: what a commit followed by publishCommitted does. */
  const post = async (groupId: string, kind: LogEvent['kind'] = 'message', data: Record<string, unknown> | null = null) =>
    publisher.events([logs.append(groupId, kind, data, kind === 'message' ? 'hi' : null)]);
  hubs.push(hub);
  return { bus, transport, logs, hub, clock, connect, post, publisher, accessChanges, members, revokedSessions, privateRoster };
}

const hubs: Hub<string>[] = [];
afterEach(() => {
  for (const hub of hubs.splice(0)) hub.close();
});

const seqsOf = (frames: Record<string, unknown>[], group: string) =>
  frames.filter((f) => f.type === 'event' && f.group === group).map((f) => f.seq);

describe('Hub (delivery, receiving side)', () => {
  it('sends ready with each group at the seq its feed has delivered, then every later event in order', async () => {
    const t = setup({ asha: ['g1', 'g2'] });
    t.logs.append('g1', 'message');
    t.logs.append('g1', 'message');
    await t.hub.start();
    await t.connect('s1', principal('asha'));
    const ready = t.transport.framesOf('s1')[0]!;
    expect(ready).toMatchObject({ type: 'ready', re: '1', user: { id: 'asha' } });
    expect(ready.groups).toEqual([expect.objectContaining({ id: 'g1', lastSeq: 2 }), expect.objectContaining({ id: 'g2', lastSeq: 0 })]);
    for (let i = 0; i < 3; i++) await t.post('g1');
    await t.post('g2');
    expect(seqsOf(t.transport.framesOf('s1'), 'g1')).toEqual([3, 4, 5]);
    expect(seqsOf(t.transport.framesOf('s1'), 'g2')).toEqual([1]);
  });

  it('does not echo a typing frame to the connection that sent it, but to the same user’s other one', async () => {
    const t = setup({ asha: ['g1'] });
    await t.hub.start();
    const one = await t.connect('s1', principal('asha'));
    await t.connect('s2', principal('asha'));
    await t.publisher.typing('g1', 'asha', one.connectionId);
    expect(t.transport.framesOf('s1').filter((f) => f.type === 'typing')).toEqual([]);
    expect(t.transport.framesOf('s2').filter((f) => f.type === 'typing')).toEqual([{ type: 'typing', group: 'g1', user: 'asha' }]);
  });

  it('follows a group the user joins (group_added) and stops right after the event that removes them', async () => {
    const t = setup({ asha: [] });
    await t.hub.start();
    await t.connect('s1', principal('asha'));
    t.members.asha = ['g1'];
    await t.publisher.control('asha', { kind: 'group_added', group: 'g1' });
    // The hub reads the group's summary first: wait for the frame, not a fixed time (flaky under load).
    await vi.waitFor(() =>
      expect(t.transport.framesOf('s1').at(-1)).toMatchObject({ type: 'group_added', group: { id: 'g1', lastSeq: 0 } }),
    );
    await t.post('g1');
    await t.post('g1', 'member', { member: 'asha', action: 'removed' });
    await t.post('g1');
    const frames = t.transport.framesOf('s1');
    expect(seqsOf(frames, 'g1')).toEqual([1, 2]);
    expect(frames.at(-1)).toEqual({ type: 'group_removed', group: 'g1' });
  });

  it('closes only the revoked session with 4403, and a session revoked before it registered at once', async () => {
    const t = setup({ asha: ['g1'] });
    await t.hub.start();
    await t.connect('s1', principal('asha', 'keep'));
    await t.connect('s2', principal('asha', 'drop'));
    await t.publisher.control('asha', { kind: 'revoke', sessionId: 'drop' });
    expect([...t.transport.closed]).toEqual([['s2', 4403]]);
    await t.connect('s3', principal('asha', 'revoked'));
    expect(t.transport.closed.get('s3')).toBe(4403);
    expect(t.transport.framesOf('s3')).toEqual([]);
    expect(t.hub.sessionCount).toBe(1);
  });

  it('fills from storage an event the bus never brought, before the next one', async () => {
    const t = setup({ asha: ['g1'] });
    await t.hub.start();
    await t.connect('s1', principal('asha'));
    t.logs.append('g1', 'message'); // committed, its publish lost
    await t.post('g1');
    // The fill comes after the 50 ms gap wait: wait for it, not a fixed time.
    await vi.waitFor(() => expect(seqsOf(t.transport.framesOf('s1'), 'g1')).toEqual([1, 2]));
  });

  it('cuts a slow consumer with 4000 after a send, and releases its feeds', async () => {
    const t = setup({ asha: ['g1'], ben: ['g1'] });
    await t.hub.start();
    await t.connect('s1', principal('asha'));
    await t.connect('s2', principal('ben'));
    t.transport.buffered.set('s2', 5000);
    await t.post('g1');
    expect([...t.transport.closed]).toEqual([]);
    // The sweep (every 250 ms) cuts it.
    t.clock.advance(250);
    expect([...t.transport.closed]).toEqual([['s2', 4000]]);
    t.transport.close('s1', new Disconnect(CloseCode.draining, 'bye'));
    expect(t.hub.sessionCount).toBe(0);
    expect(t.hub.feeds.deliveredSeq('g1')).toBe(-1); // the last reference went with the last session
  });

  it('hands access changes to the membership cache', async () => {
    const t = setup({});
    await t.hub.start();
    await t.publisher.accessChanged({ group: 'g1', user: 'asha' });
    expect(t.accessChanges).toEqual([{ group: 'g1', user: 'asha' }]);
  });
  it('a private roster: group_removed stops following at once (no event), and frames reach the user as they are', async () => {
    const t = setup({ asha: ['ann'] });
    await t.hub.start();
    await t.connect('s1', principal('asha'));
    await t.connect('s2', principal('asha'));
    await t.post('ann');
    await t.publisher.control('asha', {
      kind: 'frames',
      frames: ['{"type":"member_changed","community":"c","user":{"id":"x","name":"X"},"action":"joined","role":"member"}'],
    });
    t.members.asha = [];
    await t.publisher.control('asha', { kind: 'group_removed', group: 'ann' });
    await t.post('ann');
    for (const s of ['s1', 's2']) {
      const frames = t.transport.framesOf(s);
      expect(seqsOf(frames, 'ann')).toEqual([1]);
      expect(frames.map((f) => f.type)).toEqual(['ready', 'event', 'member_changed', 'group_removed']);
    }
    // Its feed is released: the bus no longer carries the group to this replica.
    expect(t.hub.feeds.deliveredSeq('ann')).toBe(-1);
  });

  it('a re-check against storage (the bus lost messages): revoked sessions close, a private roster left unheard stops, a group joined unheard starts', async () => {
    const t = setup({ asha: ['ann', 'g1'], ben: ['g1'] });
    t.privateRoster.add('ann');
    await t.hub.start();
    await t.connect('s1', principal('asha', 'keep'));
    await t.connect('s2', principal('asha', 'gone'));
    await t.connect('b1', principal('ben', 'b'));
    // What storage says now, none of it heard: asha's session `gone` revoked, asha out of ann (a
    // private roster) and of g1 (its log event is the feed's to deliver), ben in g2.
    t.revokedSessions.set('asha', new Set(['gone']));
    t.members.asha = [];
    t.members.ben = ['g1', 'g2'];
    await t.hub.recheckSessions();
    expect([...t.transport.closed]).toEqual([['s2', 4403]]);
    await vi.waitFor(() => expect(t.transport.framesOf('b1').at(-1)).toMatchObject({ type: 'group_added', group: { id: 'g2' } }));
    const asha = t.transport.framesOf('s1');
    expect(asha.map((f) => f.type)).toEqual(['ready', 'group_removed']);
    expect(asha.at(-1)).toEqual({ type: 'group_removed', group: 'ann' });
    await t.post('ann');
    await t.post('g2');
    expect(seqsOf(t.transport.framesOf('s1'), 'ann')).toEqual([]);
    expect(seqsOf(t.transport.framesOf('b1'), 'g2')).toEqual([1]);
    // A second re-check finds nothing more to do.
    await t.hub.recheckSessions();
    expect(t.transport.framesOf('s1')).toHaveLength(2);
  });

  it('a private roster: a removal that reaches a session still starting keeps it from following the group', async () => {
    const t = setup({ asha: ['ann'] });
    await t.hub.start();
    const session = t.hub.open('s1', principal('asha'));
    const begun = t.hub.begin(session, '1');
    // Before ready: the removal is deferred, and the group must not be followed.
    await t.publisher.control('asha', { kind: 'group_removed', group: 'ann' });
    await begun;
    await t.post('ann');
    const frames = t.transport.framesOf('s1');
    expect(seqsOf(frames, 'ann')).toEqual([]);
    expect(session.groups.has('ann')).toBe(false);
  });

  const presence = (user: string, online: boolean) => JSON.stringify({ type: 'presence', user, online, lastSeen: null });
  const presenceFrames = (frames: Record<string, unknown>[]) => frames.filter((f) => f.type === 'presence');

  it('a presence flush: each listed viewer’s sessions here get their frames, a starting one right after ready, others none', async () => {
    const t = setup({ asha: ['g1'], ben: ['g1'], cleo: ['g1'] });
    await t.hub.start();
    await t.connect('s1', principal('asha'));
    await t.connect('s1b', principal('asha'));
    await t.connect('s3', principal('cleo'));
    // ben's session is still starting (its groups are being listed) when the flush arrives.
    const starting = t.hub.open('s2', principal('ben'));
    const begun = t.hub.begin(starting, '1');
    await t.publisher.presence({
      frames: [presence('dan', true), presence('eve', false)],
      to: [
        ['asha', [0, 1]],
        ['ben', [1]],
        ['zed', [0]], // connected to another replica only
      ],
    });
    expect(t.transport.framesOf('s2')).toEqual([]); // not before ready
    await begun;
    for (const s of ['s1', 's1b'])
      expect(presenceFrames(t.transport.framesOf(s))).toEqual([
        { type: 'presence', user: 'dan', online: true, lastSeen: null },
        { type: 'presence', user: 'eve', online: false, lastSeen: null },
      ]);
    expect(t.transport.framesOf('s2').map((f) => f.type)).toEqual(['ready', 'presence']);
    expect(presenceFrames(t.transport.framesOf('s2'))).toEqual([{ type: 'presence', user: 'eve', online: false, lastSeen: null }]);
    expect(presenceFrames(t.transport.framesOf('s3'))).toEqual([]); // connected, not listed
  });

  it('a flush reaching many viewers is handed out a slice per turn: a message heard meanwhile goes first, each viewer’s frames stay in order', async () => {
    const viewers = Array.from({ length: 150 }, (_, i) => `v${i}`);
    const t = setup(Object.fromEntries(viewers.map((v) => [v, ['g1']])));
    await t.hub.start();
    for (const v of viewers) await t.connect(v, principal(v));
    const flush = (online: boolean) => ({ frames: [presence('dan', online)], to: viewers.map((v): [string, number[]] => [v, [0]]) });
    const got = () => viewers.filter((v) => presenceFrames(t.transport.framesOf(v)).length > 0).length;
    await t.publisher.presence(flush(true));
    await t.publisher.presence(flush(false));
    expect(got()).toBe(64); // the first slice, in the bus message's own turn
    await t.post('g1');
    const last = t.transport.framesOf(viewers.at(-1)!);
    expect(last.map((f) => f.type)).toEqual(['ready', 'event']);
    // The rest arrive over the next turns: wait for the last viewer's second frame, not a fixed time.
    await vi.waitFor(() => expect(presenceFrames(t.transport.framesOf(viewers.at(-1)!))).toHaveLength(2), { timeout: 10_000 });
    for (const v of viewers)
      expect(presenceFrames(t.transport.framesOf(v))).toEqual([
        { type: 'presence', user: 'dan', online: true, lastSeen: null },
        { type: 'presence', user: 'dan', online: false, lastSeen: null },
      ]);
  });

  it('a presence message it cannot read (another version’s) is logged and dropped; the next one goes through', async () => {
    const lines: string[] = [];
    const sink = { write: (line: string) => void lines.push(line) };
    const t = setup({ asha: ['g1'] }, createLogger('warn', { out: sink, err: sink }));
    await t.hub.start();
    await t.connect('s1', principal('asha'));
    for (const data of [
      'not json',
      'null',
      '{"frames":"x","to":[]}',
      JSON.stringify({ frames: [presence('dan', true)], to: [['asha', [1]]] }), // an index past the frames
      JSON.stringify({ frames: [presence('dan', true)], to: [['asha', 0]] }),
      JSON.stringify({ kind: 'frames', frames: [presence('dan', true)] }),
    ])
      await t.bus.publish({ topic: PRESENCE_TOPIC, data });
    expect(presenceFrames(t.transport.framesOf('s1'))).toEqual([]);
    expect(lines.filter((l) => l.includes('presence message not understood'))).toHaveLength(6);
    await t.publisher.presence({ frames: [presence('dan', true)], to: [['asha', [0]]] });
    expect(presenceFrames(t.transport.framesOf('s1'))).toEqual([{ type: 'presence', user: 'dan', online: true, lastSeen: null }]);
  });
});
